// `math`: is the model's final answer equal to the gold answer?
//
// 1. Extraction from the response, in the configured order (the first method that finds an
//    answer wins): the last \boxed{}/\fbox{} ("boxed"), a GSM8K "#### x" line ("hashes"),
//    "the answer is x" / "answer: x" ("answer_phrase"); then, if enabled, the last number in
//    the response as a fallback.
// 2. The gold answer is the ground truth string (a number is accepted too; a list of strings
//    means any of them). A gold that contains \boxed{} or "####" is reduced the same way.
// 3. Both are normalised (reward/internal/math_normalize.h), and compared: equal strings, else
//    parsed and compared as math (reward/internal/math_equivalence.h). Gold first: the
//    relation is directional.
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
  // Extraction methods in order of preference: boxed, hashes, answer_phrase.
  std::vector<std::string> extract = {"boxed", "hashes", "answer_phrase"};
  bool fallback_last_number = true;  // use the last number when no method finds an answer
  int64_t tail_chars = 0;            // only read the last N characters (0: all)
  double correct_score = 1.0;
  double incorrect_score = 0.0;
  double no_answer_score = 0.0;  // nothing could be extracted
  double tolerance = 1e-9;       // relative, for irrational values
  double decimal_tolerance = 1e-6;
  int64_t random_points = 8;
  int64_t max_answer_chars = 1000;  // longer extracted answers are compared as strings only

  void Bind(config::Binder& b);
};

// The answer found in `response`, and how.
struct ExtractedAnswer {
  std::string answer;
  std::string method;  // boxed, hashes, answer_phrase, last_number
};
std::optional<ExtractedAnswer> ExtractMathAnswer(std::string_view response,
                                                 const MathOptions& options);

// Whether `pred` (an extracted answer) equals `gold` (a gold answer), after normalisation.
bool MathAnswersEqual(std::string_view gold, std::string_view pred, const MathOptions& options,
                      absl::Time deadline = absl::InfiniteFuture());

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
