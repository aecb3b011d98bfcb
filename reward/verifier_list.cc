// The built-in verifiers: one registration line each. To add a verifier, write its file
// (a class with `Options` and `Create`, see reward/verifier_registry.h) and add its line here.
#include "reward/code_verifier.h"
#include "reward/countdown_verifier.h"
#include "reward/exact_match_verifier.h"
#include "reward/format_verifier.h"
#include "reward/math_verifier.h"
#include "reward/multiple_choice_verifier.h"
#include "reward/remote_verifier.h"
#include "reward/verifier_registry.h"

namespace ponder::reward {

void RegisterBuiltinVerifiers(VerifierRegistry& registry) {
  registry.Register<CodeVerifier>(
      "code", "runs the response's program against tests (stdin/stdout, asserts, HumanEval) in "
              "the code sandbox");
  registry.Register<MathVerifier>(
      "math", "final answer (\\boxed{}, ####, 'the answer is') equals the gold, as math");
  registry.Register<CountdownVerifier>(
      "countdown", "expression uses exactly the given numbers and evaluates to the target");
  registry.Register<ExactMatchVerifier>(
      "exact_match", "answer text equals the gold (whitespace/case-insensitive)");
  registry.Register<MultipleChoiceVerifier>("multiple_choice",
                                            "chosen option letter equals the gold letter");
  registry.Register<RemoteVerifier>(
      "remote", "forwards to a RewardService (custom verifiers in any language)");
  registry.Register<FormatVerifier>(
      "format", "response matches a regex or a tag structure such as <think>..</think><answer>");
}

}  // namespace ponder::reward
