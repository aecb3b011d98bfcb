// ExtractMathAnswer (reward/math_verifier.h): the final answer of a response.
#include <algorithm>
#include <cctype>

#include "reward/answer_extraction.h"
#include "reward/internal/math_parser.h"
#include "reward/math_verifier.h"

namespace ponder::reward {
namespace {

constexpr size_t kMaxGroup = 16;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Whether the text between two answers only joins them: spaces, punctuation, "and", "or",
// math delimiters, spacing, \text{and}, and short labels ending in '=' ("x_2 =").
bool OnlyJoins(std::string_view between) {
  size_t label = 0;  // characters of a label not yet closed by '='
  size_t i = 0;
  while (i < between.size()) {
    char c = between[i];
    if (IsSpace(c) || c == '$' || c == ',' || c == ';' || c == '.' || c == '&') {
      if (label > 0 && c != ' ') return false;
      ++i;
    } else if (c == '\\' && i + 1 < between.size()) {
      size_t end = i + 1;
      if (IsLetter(between[end])) {
        while (end < between.size() && IsLetter(between[end])) ++end;
      } else {
        ++end;
      }
      std::string_view name = between.substr(i + 1, end - i - 1);
      i = end;
      if (name == "text" || name == "textrm" || name == "mbox") {
        if (i >= between.size() || between[i] != '{') return false;
        size_t close = between.find('}', i);
        if (close == std::string_view::npos) return false;
        std::string word;
        for (char w : between.substr(i + 1, close - i - 1)) {
          if (IsLetter(w)) word += static_cast<char>(std::tolower(static_cast<unsigned char>(w)));
        }
        if (!word.empty() && word != "and" && word != "or") return false;
        i = close + 1;
      } else if (!(name == "(" || name == ")" || name == "[" || name == "]" || name == "quad" ||
                   name == "qquad" || name == "," || name == ";" || name == "!" || name == " " ||
                   name == "\\")) {
        return false;
      }
    } else if (IsLetter(c)) {
      size_t end = i;
      while (end < between.size() && IsLetter(between[end])) ++end;
      std::string word = Lower(between.substr(i, end - i));
      if (label == 0 && (word == "and" || word == "or")) {
        i = end;
        continue;
      }
      label += end - i;
      i = end;
    } else if (label > 0 && (IsDigit(c) || c == '_' || c == '{' || c == '}')) {
      ++label;
      ++i;
    } else if (c == '=' && label > 0) {
      label = 0;
      ++i;
    } else {
      return false;
    }
    if (label > 8) return false;
  }
  return label == 0;
}

// The contents of the spans [first, last] joined into one answer: "1, -2".
std::string Join(const std::vector<TextSpan>& spans, size_t first, size_t last) {
  std::string out;
  for (size_t k = first; k <= last; ++k) {
    if (k > first) out += ", ";
    out.append(spans[k].content.data(), spans[k].content.size());
  }
  return out;
}

// The first span of the run that ends at spans[last].
size_t GroupStart(std::string_view text, const std::vector<TextSpan>& spans, size_t last) {
  size_t first = last;
  while (first > 0 && last - first + 1 < kMaxGroup &&
         OnlyJoins(text.substr(spans[first - 1].end, spans[first].begin - spans[first - 1].end))) {
    --first;
  }
  return first;
}

// The last span of the run that starts at spans[first].
size_t GroupEnd(std::string_view text, const std::vector<TextSpan>& spans, size_t first) {
  size_t last = first;
  while (last + 1 < spans.size() && last - first + 1 < kMaxGroup &&
         OnlyJoins(text.substr(spans[last].end, spans[last + 1].begin - spans[last].end))) {
    ++last;
  }
  return last;
}

// Whether the text after "the answer is" looks like an answer: math, a number, one letter
// ("x = 5", "B") or one word ("Even"), not a sentence ("tricky to find").
bool LooksLikeAnswer(std::string_view s) {
  while (!s.empty() && (s.front() == '*' || IsSpace(s.front()))) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '*' || s.back() == '.' || IsSpace(s.back()))) {
    s.remove_suffix(1);
  }
  if (s.empty()) return false;
  char c = s.front();
  if (IsDigit(c) || c == '-' || c == '+' || c == '.' || c == '(' || c == '[' || c == '{' ||
      c == '\\' || c == '$' || static_cast<unsigned char>(c) >= 0x80) {  // UTF-8: √2, π
    return true;
  }
  if (!IsLetter(c)) return false;
  size_t word = 0;
  while (word < s.size() && IsLetter(s[word])) ++word;
  if (word == s.size()) return true;  // one word
  std::string_view first = s.substr(0, word);
  if (internal::IsFunctionName(first) || first == "sqrt" || first == "pi") return true;
  return word == 1;  // a letter: "x = 5", "B)"
}

std::optional<ExtractedAnswer> FromBoxes(std::string_view text) {
  std::vector<TextSpan> boxes = AllBoxed(text);
  if (boxes.empty()) return std::nullopt;
  size_t last = boxes.size() - 1;
  for (TextSpan& box : boxes) {  // \boxed{\boxed{5}}
    while (box.content.find("\\boxed") != std::string_view::npos ||
           box.content.find("\\fbox") != std::string_view::npos) {
      std::optional<std::string_view> inner = LastBoxed(box.content);
      if (!inner || inner->size() >= box.content.size()) break;
      box.content = *inner;
    }
  }
  std::string answer = Join(boxes, GroupStart(text, boxes, last), last);
  if (Trim(answer).empty()) return std::nullopt;
  return ExtractedAnswer{answer, "boxed"};
}

std::optional<ExtractedAnswer> FromPhrase(std::string_view text,
                                          const std::vector<TextSpan>& spans) {
  std::optional<size_t> phrase_end = LastAnswerPhrase(text);
  if (!phrase_end) return std::nullopt;
  size_t start = *phrase_end;
  while (start < text.size() &&
         (IsSpace(text[start]) || text[start] == ':' || text[start] == '*')) {
    ++start;
  }
  // A LaTeX span right after the phrase is the answer, with the spans joined to it.
  auto first = std::lower_bound(spans.begin(), spans.end(), start,
                                [](const TextSpan& s, size_t at) { return s.begin < at; });
  if (first != spans.end() && first->begin == start) {
    size_t index = first - spans.begin();
    return ExtractedAnswer{Join(spans, index, GroupEnd(text, spans, index)), "answer_phrase"};
  }
  std::optional<std::string_view> content = AfterAnswerPhrase(text);
  if (!content || !LooksLikeAnswer(*content)) return std::nullopt;
  while (!content->empty() && (content->front() == '*' || IsSpace(content->front()))) {
    content->remove_prefix(1);  // markdown: **Answer:** 42
  }
  while (!content->empty() && (content->back() == '*' || IsSpace(content->back()))) {
    content->remove_suffix(1);
  }
  if (std::optional<std::string_view> inner = LastBoxed(*content)) content = inner;
  return ExtractedAnswer{std::string(*content), "answer_phrase"};
}

// The last LaTeX span (with its run) or the last standalone number, whichever is later.
std::optional<ExtractedAnswer> FromLastMath(std::string_view text,
                                            const std::vector<TextSpan>& spans, bool latex,
                                            bool numbers) {
  std::optional<TextSpan> number;
  if (numbers) number = LastStandaloneNumber(text, spans);
  if (latex && !spans.empty() && (!number || number->begin < spans.back().end)) {
    size_t last = spans.size() - 1;
    std::string answer = Join(spans, GroupStart(text, spans, last), last);
    if (!Trim(answer).empty()) return ExtractedAnswer{answer, "latex"};
  }
  if (number) return ExtractedAnswer{std::string(number->content), "last_number"};
  return std::nullopt;
}

}  // namespace

std::optional<ExtractedAnswer> ExtractMathAnswer(std::string_view response,
                                                 const MathOptions& options) {
  if (options.tail_chars > 0 && response.size() > static_cast<size_t>(options.tail_chars)) {
    response = response.substr(response.size() - options.tail_chars);
  }
  if (options.require_boxed) return FromBoxes(response);
  std::optional<std::vector<TextSpan>> spans;  // found when first needed
  auto math_spans = [&]() -> const std::vector<TextSpan>& {
    if (!spans) spans = LatexSpans(response);
    return *spans;
  };
  bool latex = false;
  for (const std::string& method : options.extract) {
    std::optional<ExtractedAnswer> found;
    if (method == "boxed") {
      found = FromBoxes(response);
    } else if (method == "hashes") {
      if (std::optional<std::string_view> hashes = AfterLastHashes(response)) {
        found = ExtractedAnswer{std::string(*hashes), "hashes"};
      }
    } else if (method == "answer_phrase") {
      found = FromPhrase(response, math_spans());
    } else if (method == "latex") {
      latex = true;
      found = FromLastMath(response, math_spans(), true, options.fallback_last_number);
    }
    if (found && !Trim(found->answer).empty()) return found;
  }
  if (!latex && options.fallback_last_number) {
    return FromLastMath(response, math_spans(), false, true);
  }
  return std::nullopt;
}

}  // namespace ponder::reward
