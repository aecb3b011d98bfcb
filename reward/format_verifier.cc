#include "reward/format_verifier.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "reward/answer_extraction.h"

namespace ponder::reward {
namespace {

bool IsBlank(std::string_view s) { return Trim(s).empty(); }

bool ValidTag(const std::string& tag) {
  if (tag.empty()) return false;
  for (char c : tag) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

void FormatOptions::Bind(config::Binder& b) {
  auto check = b.Field("pattern", pattern);
  if (b.reading() && !pattern.empty()) {
    absl::StatusOr<internal::Regex> regex = internal::Regex::Compile(pattern, {});
    check.Must(regex.ok(), absl::StrCat("be a valid regular expression (",
                                        regex.ok() ? "" : regex.status().message(), ")"));
  }
  b.Field("full_match", full_match);
  b.Field("tags", tags)
      .Must(std::all_of(tags.begin(), tags.end(), ValidTag),
            "be tag names (letters, digits, _ or -)");
  b.Field("allow_outside_text", allow_outside_text);
  b.Field("match_score", match_score);
  b.Field("mismatch_score", mismatch_score);
}

absl::Status FormatOptions::Validate() const {
  if (pattern.empty() && tags.empty()) {
    return absl::InvalidArgumentError("format: set a pattern or at least one tag");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FormatVerifier>> FormatVerifier::Create(const Options& options) {
  PONDER_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<FormatVerifier> verifier(new FormatVerifier(options));
  if (!options.pattern.empty()) {
    internal::Regex::Flags flags;
    flags.dotall = true;
    absl::StatusOr<internal::Regex> regex = internal::Regex::Compile(options.pattern, flags);
    if (!regex.ok()) return regex.status();
    verifier->regex_ = *std::move(regex);
  }
  return verifier;
}

std::string FormatVerifier::CheckTags(std::string_view response) const {
  size_t pos = 0;
  for (const std::string& tag : options_.tags) {
    const std::string open = "<" + tag + ">", close = "</" + tag + ">";
    size_t begin = response.find(open, pos);
    if (begin == std::string_view::npos) return absl::StrCat("missing ", open);
    if (!options_.allow_outside_text && !IsBlank(response.substr(pos, begin - pos))) {
      return absl::StrCat("text before ", open);
    }
    size_t end = response.find(close, begin + open.size());
    if (end == std::string_view::npos) return absl::StrCat("missing ", close);
    std::string_view content = response.substr(begin + open.size(), end - begin - open.size());
    if (IsBlank(content)) return absl::StrCat("empty ", open);
    if (content.find(open) != std::string_view::npos) return absl::StrCat(open, " inside ", open);
    pos = end + close.size();
    // Each element exactly once.
    if (response.find(open, pos) != std::string_view::npos) {
      return absl::StrCat(open, " appears more than once");
    }
  }
  if (!options_.allow_outside_text && !IsBlank(response.substr(pos))) {
    return absl::StrCat("text after </", options_.tags.back(), ">");
  }
  return "";
}

absl::StatusOr<VerifyResult> FormatVerifier::Score(const VerifyInput& input) const {
  VerifyResult result;
  bool ok;
  if (regex_) {
    ok = options_.full_match ? regex_->FullMatch(input.response)
                             : !regex_->FindAll(input.response, 1).empty();
    if (!ok) result.details["reason"] = "does not match the pattern";
  } else {
    std::string problem = CheckTags(input.response);
    ok = problem.empty();
    if (!ok) result.details["reason"] = problem;
  }
  result.details["matched"] = ok;
  result.score = ok ? options_.match_score : options_.mismatch_score;
  return result;
}

}  // namespace ponder::reward
