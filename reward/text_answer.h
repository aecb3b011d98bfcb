// Shared by the exact_match and multiple_choice verifiers: where in the response the answer
// is, and how text is compared.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "reward/internal/regex.h"

namespace ponder::reward {

enum class AnswerLocation { kWhole, kLastLine, kBoxed, kTag, kAnswerPhrase, kRegex };

// Options that say where the answer is. `Bind` adds the keys extract, tag, pattern.
struct AnswerLocationOptions {
  AnswerLocation extract = AnswerLocation::kWhole;
  std::string tag = "answer";  // for extract: tag, the <answer>...</answer> element
  std::string pattern;         // for extract: regex, group 1 (else 0) of the last match

  void Bind(config::Binder& b);
};

// A compiled AnswerLocationOptions.
class AnswerLocator {
 public:
  static absl::StatusOr<AnswerLocator> Create(const AnswerLocationOptions& options);
  // The answer text, or nullopt when the response has none where it is looked for.
  std::optional<std::string> Find(std::string_view response) const;

 private:
  AnswerLocationOptions options_;
  std::optional<internal::Regex> regex_;
};

// Text as compared: whitespace runs collapsed to one space and trimmed, optionally lowercased
// and with surrounding punctuation (. , ; : ! ? quotes ** `) removed.
std::string CanonicalText(std::string_view text, bool case_sensitive, bool strip_punctuation);

}  // namespace ponder::reward
