// The built-in verifiers: one registration line each. To add a verifier, write its file
// (a class with `Options` and `Create`, see reward/verifier_registry.h) and add its line here.
#include "reward/math_verifier.h"
#include "reward/verifier_registry.h"

namespace ponder::reward {

void RegisterBuiltinVerifiers(VerifierRegistry& registry) {
  registry.Register<MathVerifier>(
      "math", "final answer (\\boxed{}, ####, 'the answer is') equals the gold, as math");
}

}  // namespace ponder::reward
