// Finding the final answer in a model's output: the last \boxed{...}, a GSM8K `#### x` line,
// "the answer is x", a tagged <answer>...</answer> span, LaTeX math spans, or the last
// standalone number. Shared by the math, exact_match and multiple_choice verifiers. All
// functions scan the text once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ponder::reward {

// The contents of the last `\boxed{...}` or `\fbox{...}` (braces balanced), also the
// `\boxed 5` form without braces. nullopt when there is none or the last one is unclosed.
std::optional<std::string_view> LastBoxed(std::string_view text);

// The rest of the line after the last `####` (GSM8K style), trimmed.
std::optional<std::string_view> AfterLastHashes(std::string_view text);

// The index just after the last "answer is" / "answer:" / "answer =" (case-insensitive).
std::optional<size_t> LastAnswerPhrase(std::string_view text);

// What follows the last "the answer is" / "answer:" (case-insensitive), up to the end of the
// sentence or line: "The final answer is $42$." -> "$42$". Trailing period dropped.
std::optional<std::string_view> AfterAnswerPhrase(std::string_view text);

// The contents of the last <tag>...</tag> (e.g. tag = "answer").
std::optional<std::string_view> LastTagged(std::string_view text, std::string_view tag);

// A piece of the text: [begin, end) in it, and what it holds (the contents of a box or of
// math delimiters, the digits of a number).
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
  std::string_view content;
};

// Every \boxed{...} / \fbox{...} in order (braces balanced; unclosed ones are skipped).
std::vector<TextSpan> AllBoxed(std::string_view text);

// Every LaTeX math span in order: $$...$$, \[...\], \(...\) and $...$. A single $ opens math
// only when a non-space follows it and no digit precedes it, and closes it only when a
// non-space precedes it and no digit follows it (Pandoc's rule), and an inline span stays on
// one line, so "costs $5 and $3" holds no math.
std::vector<TextSpan> LatexSpans(std::string_view text);

// The last number that stands alone ("is 120.", "= -2,500", "$18", "28%", "3/4"): not part of
// a larger expression ("x^2", "\frac{10}{9}", "2x", "1+2") and not inside any of `skip`.
std::optional<TextSpan> LastStandaloneNumber(std::string_view text,
                                             const std::vector<TextSpan>& skip);

// Whitespace trimmed from both ends.
std::string_view Trim(std::string_view text);

}  // namespace ponder::reward
