// `exact_match`: the answer text equals the ground truth (a string, a number, or a list of
// accepted strings) after light canonicalisation (whitespace, optionally case and surrounding
// punctuation). Where the answer is in the response is configurable (whole response, last
// line, \boxed{}, an <answer> tag, "the answer is", or a regex group).
#pragma once

#include <memory>

#include "reward/text_answer.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct ExactMatchOptions {
  AnswerLocationOptions location;  // extract, tag, pattern
  bool case_sensitive = false;
  bool strip_punctuation = true;
  void Bind(config::Binder& b);
};

class ExactMatchVerifier : public Verifier {
 public:
  using Options = ExactMatchOptions;
  static absl::StatusOr<std::unique_ptr<ExactMatchVerifier>> Create(const Options& options);
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

 private:
  ExactMatchVerifier(Options options, AnswerLocator locator)
      : options_(std::move(options)), locator_(std::move(locator)) {}
  Options options_;
  AnswerLocator locator_;
};

// The accepted answers in a ground truth: a string, a number or a list of strings/numbers.
// `verifier` names the caller in errors.
absl::StatusOr<std::vector<std::string>> GroundTruthStrings(const nlohmann::json& truth,
                                                            const char* verifier);

}  // namespace ponder::reward
