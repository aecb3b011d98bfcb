#include "reward/answer_extraction.h"

#include <cctype>

namespace ponder::reward {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Position of the last case-insensitive occurrence of `needle` in `text`, or npos.
size_t RFindNoCase(std::string_view text, std::string_view needle, size_t before) {
  if (needle.empty() || text.size() < needle.size()) return std::string_view::npos;
  size_t start = std::min(before, text.size() - needle.size());
  for (size_t i = start + 1; i-- > 0;) {
    bool match = true;
    for (size_t j = 0; j < needle.size(); ++j) {
      if (Lower(text[i + j]) != needle[j]) {
        match = false;
        break;
      }
    }
    if (match) return i;
  }
  return std::string_view::npos;
}

// From `open` (the index of a '{'), the index just past its matching '}', or npos.
size_t MatchBrace(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '}')) {
      ++i;  // an escaped brace \{ or \} does not nest
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view Trim(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && IsSpace(text[b])) ++b;
  while (e > b && IsSpace(text[e - 1])) --e;
  return text.substr(b, e - b);
}

std::optional<std::string_view> LastBoxed(std::string_view text) {
  // The later of the last \boxed and the last \fbox wins.
  size_t best = std::string_view::npos;
  size_t name_len = 0;
  for (std::string_view name : {std::string_view("\\boxed"), std::string_view("\\fbox")}) {
    size_t at = text.rfind(name);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at;
      name_len = name.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  size_t i = best + name_len;
  while (i < text.size() && IsSpace(text[i])) ++i;
  if (i < text.size() && text[i] == '{') {
    size_t end = MatchBrace(text, i);
    if (end == std::string_view::npos) return std::nullopt;
    return Trim(text.substr(i + 1, end - i - 2));
  }
  // "\boxed 5": the argument runs to the next space, '$' or end.
  if (i == best + name_len) return std::nullopt;  // "\boxedx" is another command
  size_t end = i;
  while (end < text.size() && !IsSpace(text[end]) && text[end] != '$') ++end;
  if (end == i) return std::nullopt;
  return text.substr(i, end - i);
}

std::optional<std::string_view> AfterLastHashes(std::string_view text) {
  size_t at = text.rfind("####");
  if (at == std::string_view::npos) return std::nullopt;
  size_t begin = at + 4;
  size_t end = text.find('\n', begin);
  if (end == std::string_view::npos) end = text.size();
  std::string_view answer = Trim(text.substr(begin, end - begin));
  if (answer.empty()) return std::nullopt;
  return answer;
}

std::optional<std::string_view> AfterAnswerPhrase(std::string_view text) {
  size_t best = std::string_view::npos;
  size_t best_len = 0;
  for (std::string_view phrase :
       {std::string_view("answer is"), std::string_view("answer:"), std::string_view("answer =")}) {
    size_t at = RFindNoCase(text, phrase, text.size());
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at;
      best_len = phrase.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  size_t begin = best + best_len;
  while (begin < text.size() && (IsSpace(text[begin]) || text[begin] == ':')) ++begin;
  // Up to the end of the line, or a sentence end ". " / ".\n" / final "." outside math.
  size_t end = begin;
  bool in_math = false;
  while (end < text.size()) {
    char c = text[end];
    if (c == '\n') break;
    if (c == '$') in_math = !in_math;
    if (c == '.' && !in_math) {
      bool next_is_digit = end + 1 < text.size() && IsDigit(text[end + 1]);
      if (!next_is_digit) break;  // "3.5" keeps its point; "is 7." ends at the point
    }
    ++end;
  }
  std::string_view answer = Trim(text.substr(begin, end - begin));
  if (answer.empty()) return std::nullopt;
  return answer;
}

std::optional<std::string_view> LastTagged(std::string_view text, std::string_view tag) {
  std::string close = "</" + std::string(tag) + ">";
  std::string open = "<" + std::string(tag) + ">";
  size_t end = text.rfind(close);
  if (end == std::string_view::npos) return std::nullopt;
  size_t begin = text.rfind(open, end);
  if (begin == std::string_view::npos) return std::nullopt;
  begin += open.size();
  return Trim(text.substr(begin, end - begin));
}

std::optional<std::string_view> LastNumber(std::string_view text) {
  // Walk back to the last digit, then extend over the characters a number can contain.
  size_t i = text.size();
  while (i > 0 && !IsDigit(text[i - 1])) --i;
  if (i == 0) return std::nullopt;
  size_t end = i;
  size_t begin = i;
  while (begin > 0) {
    char c = text[begin - 1];
    if (IsDigit(c)) {
      --begin;
    } else if ((c == ',' || c == '.' || c == '/') && begin >= 2 && IsDigit(text[begin - 2])) {
      --begin;  // separators between digits: 1,234  3.5  3/4
    } else {
      break;
    }
  }
  if (begin > 0 && text[begin - 1] == '.') --begin;  // ".5"
  if (begin > 0 && text[begin - 1] == '-') --begin;
  // A trailing ',' or '.' is punctuation, not part of the number (end already excludes it).
  return text.substr(begin, end - begin);
}

}  // namespace ponder::reward
