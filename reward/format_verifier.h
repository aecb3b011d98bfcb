// `format`: does the response have the required shape?
//
// Either a regular expression (PCRE2, '.' matches newlines) that the whole response must
// match (or, with full_match: false, contain), or a tag structure: the response must be the
// listed elements in order, each exactly once, e.g. tags [think, answer] accepts
// "<think>...</think>\n<answer>...</answer>" (whitespace between and around allowed; other
// text outside the elements only with allow_outside_text). Non-empty content is required.
// Score: match_score when it matches, else mismatch_score. `correct` is left unset: format is
// a shaping term, not a verdict on the answer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config.h"
#include "reward/internal/regex.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct FormatOptions {
  std::string pattern;  // a regex; when empty the tag structure is checked
  bool full_match = true;
  std::vector<std::string> tags = {"think", "answer"};
  bool allow_outside_text = false;
  double match_score = 1.0;
  double mismatch_score = 0.0;
  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

class FormatVerifier : public Verifier {
 public:
  using Options = FormatOptions;
  static absl::StatusOr<std::unique_ptr<FormatVerifier>> Create(const Options& options);
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

 private:
  explicit FormatVerifier(Options options) : options_(std::move(options)) {}
  // Empty when the structure is right, else what is wrong.
  std::string CheckTags(std::string_view response) const;
  Options options_;
  std::optional<internal::Regex> regex_;
};

}  // namespace ponder::reward
