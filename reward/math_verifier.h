// `math`: is the model's final answer equal to the gold answer? Built to agree with Hugging
// Face's Math-Verify (the reward of the open-r1 and TRL recipes) and to be at least as safe:
// when it cannot tell, the verdict is "not equal", with details.reason saying why.
//
// 1. Extraction from the response (math_extraction.cc), methods in the configured order, the
//    first that finds an answer wins:
//      boxed          the last \boxed{}/\fbox{}, with the boxes just before it when only
//                     "and", "or", commas or a label join them (\boxed{1} and \boxed{-2});
//      hashes         a GSM8K "#### x" line;
//      answer_phrase  "the answer is x" / "answer: x", when x looks like an answer (math, a
//                     number or one word; a LaTeX span right after the phrase is taken whole);
//      latex          the last LaTeX span ($...$, \(...\), \[...\], $$...$$) taken whole, with
//                     the spans just before it joined by "and"/"or"/commas; with
//                     fallback_last_number, the last standalone number competes with it and
//                     the later of the two wins ("... so the volume is 120.").
//    A number inside a larger expression is never taken ($\frac{10}{9}$ is not 9).
// 2. The gold answer is the ground truth string (a number is accepted too; a list of strings
//    means any of them). A gold that contains \boxed{} or "####" is reduced the same way.
// 3. Both are normalised (reward/internal/math_normalize.h), read into structured answers
//    (reward/internal/math_answer.h) and compared by kind (reward/internal/math_equivalence.h).
//    Gold first: the comparison is directional.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/config.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct MathOptions {
  // Extraction methods in order of preference: boxed, hashes, answer_phrase, latex.
  std::vector<std::string> extract = {"boxed", "hashes", "answer_phrase", "latex"};
  bool fallback_last_number = true;  // a standalone number may be the answer (see above)
  bool require_boxed = false;        // only a \boxed{} answer counts (no box: no answer)
  int64_t tail_chars = 0;            // only read the last N characters (0: all)
  double correct_score = 1.0;
  double incorrect_score = 0.0;
  double no_answer_score = 0.0;  // nothing could be extracted
  // A written decimal matches a value when both round to this many decimal places
  // (1/3 = 0.333333; 1/3 != 0.33), as Math-Verify's float_rounding.
  int64_t decimal_places = 6;
  double tolerance = 1e-10;  // relative, for values only known approximately (pi, sqrt 2)
  int64_t random_points = 8;
  bool tuple_matches_set = false;   // may an ordered tuple (1, 2) match a set {2, 1}?
  int64_t max_answer_chars = 1000;  // longer answers are compared as strings only
  double time_limit_s = 1.0;        // per verification, within the caller's deadline

  void Bind(config::Binder& b);
};

// The answer found in `response`, and how.
struct ExtractedAnswer {
  std::string answer;
  std::string method;  // boxed, hashes, answer_phrase, latex, last_number
};
std::optional<ExtractedAnswer> ExtractMathAnswer(std::string_view response,
                                                 const MathOptions& options);

struct MathVerdict {
  bool equal = false;
  std::string reason;  // why not, when not equal
};

// Whether `pred` (an extracted answer) equals `gold` (a gold answer), and if not, why.
MathVerdict CompareMathAnswers(std::string_view gold, std::string_view pred,
                               const MathOptions& options,
                               absl::Time deadline = absl::InfiniteFuture());
inline bool MathAnswersEqual(std::string_view gold, std::string_view pred,
                             const MathOptions& options,
                             absl::Time deadline = absl::InfiniteFuture()) {
  return CompareMathAnswers(gold, pred, options, deadline).equal;
}

class MathVerifier : public Verifier {
 public:
  using Options = MathOptions;
  static absl::StatusOr<std::unique_ptr<MathVerifier>> Create(const Options& options);
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

 private:
  explicit MathVerifier(Options options) : options_(std::move(options)) {}
  Options options_;
};

}  // namespace ponder::reward
