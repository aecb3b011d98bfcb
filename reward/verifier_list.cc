// The built-in verifiers: one registration line each. To add a verifier, write its file
// (a class with `Options` and `Create`, see reward/verifier_registry.h) and add its line here.
#include "reward/verifier_registry.h"

namespace ponder::reward {

void RegisterBuiltinVerifiers(VerifierRegistry& registry) {}

}  // namespace ponder::reward
