// Finding the final answer in a model's output: the last \boxed{...}, a GSM8K `#### x` line,
// "the answer is x", a tagged <answer>...</answer> span, or the last number. Shared by the
// math, exact_match and multiple_choice verifiers. All functions scan the text once and never
// allocate more than the answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ponder::reward {

// The contents of the last `\boxed{...}` or `\fbox{...}` (braces balanced), also the
// `\boxed 5` form without braces. nullopt when there is none or the last one is unclosed.
std::optional<std::string_view> LastBoxed(std::string_view text);

// The rest of the line after the last `####` (GSM8K style), trimmed.
std::optional<std::string_view> AfterLastHashes(std::string_view text);

// What follows the last "the answer is" / "answer:" (case-insensitive), up to the end of the
// sentence or line: "The final answer is $42$." -> "$42$". Trailing period dropped.
std::optional<std::string_view> AfterAnswerPhrase(std::string_view text);

// The contents of the last <tag>...</tag> (e.g. tag = "answer").
std::optional<std::string_view> LastTagged(std::string_view text, std::string_view tag);

// The last number in the text ("-1,234.5", "3/4", ".5" read as written), or nullopt.
std::optional<std::string_view> LastNumber(std::string_view text);

// Whitespace trimmed from both ends.
std::string_view Trim(std::string_view text);

}  // namespace ponder::reward
