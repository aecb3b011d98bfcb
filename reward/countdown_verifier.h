// `countdown`: the response's arithmetic expression uses exactly the given numbers (each once)
// and evaluates to the target (the TinyZero / Countdown task).
//
// Ground truth: {"numbers": [int...], "target": int}. The expression is the last
// <answer>...</answer> element (else the last \boxed{}, else the last line); a trailing
// "= 24" is ignored. Allowed: integers, + - * / (exact rational arithmetic, no rounding),
// parentheses, and \times, \cdot, \div, x/× as operators.
// Score: correct_score when right; format_score when an expression was found but is wrong
// (TinyZero gives 0.1); 0 when there is none.
#pragma once

#include <memory>
#include <string>

#include "base/config.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct CountdownOptions {
  double correct_score = 1.0;
  double format_score = 0.1;
  bool use_all_numbers = true;  // false: a subset of the numbers may be used (each at most once)
  std::string tag = "answer";
  void Bind(config::Binder& b);
};

class CountdownVerifier : public Verifier {
 public:
  using Options = CountdownOptions;
  static absl::StatusOr<std::unique_ptr<CountdownVerifier>> Create(const Options& options);
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

 private:
  explicit CountdownVerifier(Options options) : options_(std::move(options)) {}
  Options options_;
};

}  // namespace ponder::reward
