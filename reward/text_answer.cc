#include "reward/text_answer.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "reward/answer_extraction.h"

namespace ponder::reward {

void AnswerLocationOptions::Bind(config::Binder& b) {
  b.Enum("extract", extract,
         {{"whole", AnswerLocation::kWhole},
          {"last_line", AnswerLocation::kLastLine},
          {"boxed", AnswerLocation::kBoxed},
          {"tag", AnswerLocation::kTag},
          {"answer_phrase", AnswerLocation::kAnswerPhrase},
          {"regex", AnswerLocation::kRegex}});
  b.Field("tag", tag).NotEmpty();
  auto check = b.Field("pattern", pattern);
  check.Must(extract != AnswerLocation::kRegex || !pattern.empty(), "be set when extract is regex");
  if (b.reading() && !pattern.empty()) {
    absl::StatusOr<internal::Regex> regex = internal::Regex::Compile(pattern, {});
    check.Must(regex.ok(), absl::StrCat("be a valid regular expression (",
                                        regex.ok() ? "" : regex.status().message(), ")"));
  }
}

absl::StatusOr<AnswerLocator> AnswerLocator::Create(const AnswerLocationOptions& options) {
  AnswerLocator locator;
  locator.options_ = options;
  if (options.extract == AnswerLocation::kRegex) {
    if (options.pattern.empty())
      return absl::InvalidArgumentError("extract: regex needs a pattern");
    internal::Regex::Flags flags;
    flags.dotall = true;
    flags.multiline = true;
    absl::StatusOr<internal::Regex> regex = internal::Regex::Compile(options.pattern, flags);
    if (!regex.ok()) return regex.status();
    locator.regex_ = *std::move(regex);
  }
  return locator;
}

std::optional<std::string> AnswerLocator::Find(std::string_view response) const {
  switch (options_.extract) {
    case AnswerLocation::kWhole:
      return std::string(Trim(response));
    case AnswerLocation::kLastLine: {
      std::string_view text = Trim(response);
      size_t nl = text.rfind('\n');
      return std::string(Trim(nl == std::string_view::npos ? text : text.substr(nl + 1)));
    }
    case AnswerLocation::kBoxed: {
      auto found = LastBoxed(response);
      if (!found) return std::nullopt;
      return std::string(*found);
    }
    case AnswerLocation::kTag: {
      auto found = LastTagged(response, options_.tag);
      if (!found) return std::nullopt;
      return std::string(*found);
    }
    case AnswerLocation::kAnswerPhrase: {
      auto found = AfterAnswerPhrase(response);
      if (!found) return std::nullopt;
      return std::string(*found);
    }
    case AnswerLocation::kRegex: {
      std::vector<std::vector<std::string>> matches = regex_->FindAll(response);
      if (matches.empty()) return std::nullopt;
      const std::vector<std::string>& last = matches.back();
      return last.size() > 1 ? last[1] : last[0];
    }
  }
  return std::nullopt;
}

std::string CanonicalText(std::string_view text, bool case_sensitive, bool strip_punctuation) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += case_sensitive ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  auto is_punct = [](char c) {
    return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '"' ||
           c == '\'' || c == '*' || c == '`' || c == ' ';
  };
  if (strip_punctuation) {
    size_t b = 0, e = out.size();
    while (b < e && is_punct(out[b])) ++b;
    while (e > b && is_punct(out[e - 1])) --e;
    return out.substr(b, e - b);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

}  // namespace ponder::reward
