// `multiple_choice`: the chosen option letter equals the gold one.
//
// The letter is read from, in order: the last \boxed{}; "the answer is ..." / "answer: ...";
// the last <answer> tag; the last option in parentheses "(C)"; a response that is only a
// letter. Inside what was found, "C", "(C)", "C)", "C.", "\text{(C)}", "**C**",
// "option C" and "C: text" all count as C. Letters are read uppercase only (a lone "a" is an
// article, not option A) unless the found text is exactly one letter.
//
// Ground truth: a letter ("C"), a 0-based option index (2), or the text of the correct option
// when metadata.choices lists the options in order.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/config.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct MultipleChoiceOptions {
  std::string letters = "ABCDEFGHIJ";  // the valid option letters, in order
  void Bind(config::Binder& b);
};

class MultipleChoiceVerifier : public Verifier {
 public:
  using Options = MultipleChoiceOptions;
  static absl::StatusOr<std::unique_ptr<MultipleChoiceVerifier>> Create(const Options& options);
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

  // The option letter chosen in `response`, if any.
  std::optional<char> ChosenLetter(std::string_view response) const;

 private:
  explicit MultipleChoiceVerifier(Options options) : options_(std::move(options)) {}
  std::optional<char> LetterIn(std::string_view text) const;
  Options options_;
};

}  // namespace ponder::reward
