#include "reward/answer_extraction.h"

#include <algorithm>
#include <cctype>
#include <iterator>

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

std::optional<size_t> LastAnswerPhrase(std::string_view text) {
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
  return best + best_len;
}

std::optional<std::string_view> AfterAnswerPhrase(std::string_view text) {
  std::optional<size_t> phrase_end = LastAnswerPhrase(text);
  if (!phrase_end) return std::nullopt;
  size_t begin = *phrase_end;
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

std::vector<TextSpan> AllBoxed(std::string_view text) {
  std::vector<TextSpan> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t boxed = text.find("\\boxed", i), fbox = text.find("\\fbox", i);
    size_t at = std::min(boxed, fbox);
    if (at == std::string_view::npos) break;
    size_t name_end = at + (at == boxed ? 6 : 5);
    size_t open = name_end;
    while (open < text.size() && IsSpace(text[open])) ++open;
    if (open >= text.size() || text[open] != '{') {
      // "\boxed 5": the argument runs to the next space or '$' ("\boxedx" is another command).
      size_t end = open;
      while (end < text.size() && !IsSpace(text[end]) && text[end] != '$') ++end;
      if (open > name_end && end > open) out.push_back({at, end, text.substr(open, end - open)});
      i = std::max(end, open);
      continue;
    }
    size_t end = MatchBrace(text, open);
    if (end == std::string_view::npos) break;  // unclosed: everything after it is inside it
    out.push_back({at, end, Trim(text.substr(open + 1, end - open - 2))});
    i = end;  // a box inside this one is part of its answer
  }
  return out;
}

std::vector<TextSpan> LatexSpans(std::string_view text) {
  std::vector<TextSpan> out;
  bool no_paren_close = false, no_bracket_close = false, no_display_close = false;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      char next = text[i + 1];
      bool paren = next == '(' && !no_paren_close, bracket = next == '[' && !no_bracket_close;
      if (paren || bracket) {
        size_t close = text.find(paren ? "\\)" : "\\]", i + 2);
        if (close == std::string_view::npos) {
          (paren ? no_paren_close : no_bracket_close) = true;
        } else {
          out.push_back({i, close + 2, Trim(text.substr(i + 2, close - i - 2))});
          i = close + 2;
          continue;
        }
      }
      i += 2;  // an escaped character (\$) or another command
      continue;
    }
    if (c != '$') {
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {  // $$ ... $$
      size_t close = no_display_close ? std::string_view::npos : text.find("$$", i + 2);
      if (close == std::string_view::npos) {
        no_display_close = true;
        i += 2;
        continue;
      }
      out.push_back({i, close + 2, Trim(text.substr(i + 2, close - i - 2))});
      i = close + 2;
      continue;
    }
    bool opens = i + 1 < text.size() && !IsSpace(text[i + 1]) && !(i > 0 && IsDigit(text[i - 1]));
    size_t j = i + 1;
    while (opens && j < text.size() && text[j] != '$' && text[j] != '\n') {
      j += text[j] == '\\' ? 2 : 1;
    }
    bool closes = opens && j < text.size() && text[j] == '$' && !IsSpace(text[j - 1]) &&
                  !(j + 1 < text.size() && (IsDigit(text[j + 1]) || text[j + 1] == '$'));
    if (!closes) {
      ++i;  // a dollar sign, not math
      continue;
    }
    out.push_back({i, j + 1, Trim(text.substr(i + 1, j - i - 1))});
    i = j + 1;
  }
  return out;
}

namespace {

bool Inside(size_t at, const std::vector<TextSpan>& spans) {
  // spans are in order and do not overlap: the last one that begins at or before `at`.
  auto it = std::upper_bound(spans.begin(), spans.end(), at,
                             [](size_t a, const TextSpan& s) { return a < s.begin; });
  return it != spans.begin() && at < std::prev(it)->end;
}

bool IsSeparator(char c) { return IsSpace(c) || c == '=' || c == ':' || c == '*' || c == '"'; }

// What may stand right before a standalone number (after its sign and currency sign): a
// space, '=', ':', markdown or quotes, or a '(' that itself follows one ("(about 5)", not
// "f(2)" or "√(2)").
bool OpensNumber(std::string_view text, size_t at) {
  if (at == 0) return true;
  char c = text[at - 1];
  if (c == '(') return at == 1 || IsSeparator(text[at - 2]);
  return IsSeparator(c) || c == '\'';
}

// What may follow it: the end, a space, punctuation that ends a clause, or a ')' that is
// followed by one of those ("(about 5).", not "(2)/2").
bool ClosesNumber(std::string_view text, size_t at) {
  while (at < text.size() && text[at] == ')') ++at;
  if (at >= text.size()) return true;
  char c = text[at];
  if (c == '.' || c == ',') return at + 1 >= text.size() || !IsDigit(text[at + 1]);
  return IsSpace(c) || c == ';' || c == ':' || c == '!' || c == '?' || c == '*' || c == '"' ||
         c == '\'';
}

// Whether an arithmetic operator stands next to [begin, end) across spaces ("x - 5", "3 * 4",
// "2 \cdot 3"): then the number is part of an expression.
bool NextToOperator(std::string_view text, size_t begin, size_t end) {
  auto is_operator = [](char c) {
    return c == '+' || c == '-' || c == '*' || c == '/' || c == '^';
  };
  size_t before = begin;
  while (before > 0 && IsSpace(text[before - 1])) --before;
  if (before < begin && before > 0) {
    std::string_view left = text.substr(0, before);
    auto ends_with = [&](std::string_view tail) {
      return left.size() >= tail.size() && left.substr(left.size() - tail.size()) == tail;
    };
    if (is_operator(left.back()) || ends_with("\\cdot") || ends_with("\\times")) {
      return true;
    }
  }
  size_t after = end;
  while (after < text.size() && IsSpace(text[after])) ++after;
  return after > end && after < text.size() && is_operator(text[after]) &&
         !(text[after] == '*' && after + 1 < text.size() && text[after + 1] == '*');
}

}  // namespace

std::optional<TextSpan> LastStandaloneNumber(std::string_view text,
                                             const std::vector<TextSpan>& skip) {
  size_t i = text.size();
  while (i > 0) {
    while (i > 0 && !IsDigit(text[i - 1])) --i;
    if (i == 0) return std::nullopt;
    size_t end = i, begin = i;
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
    i = begin;
    size_t value_end = end < text.size() && text[end] == '%' ? end + 1 : end;
    size_t start = begin;
    if (start > 0 && text[start - 1] == '-') --start;
    if (start > 0 && text[start - 1] == '$') {  // a currency sign: $18, \$18
      --start;
      if (start > 0 && text[start - 1] == '\\') --start;
    }
    bool opens = OpensNumber(text, start);
    if (opens && ClosesNumber(text, value_end) && !Inside(begin, skip) &&
        !NextToOperator(text, start, value_end)) {
      size_t sign = begin > 0 && text[begin - 1] == '-' ? begin - 1 : begin;
      return TextSpan{sign, value_end, text.substr(sign, value_end - sign)};
    }
  }
  return std::nullopt;
}

}  // namespace ponder::reward
