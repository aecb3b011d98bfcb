#include "reward/multiple_choice_verifier.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "reward/answer_extraction.h"

namespace ponder::reward {
namespace {

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

}  // namespace

void MultipleChoiceOptions::Bind(config::Binder& b) {
  auto check = b.Field("letters", letters);
  bool ok = !letters.empty() && std::all_of(letters.begin(), letters.end(), IsUpper);
  check.Must(ok, "be uppercase letters such as ABCD");
}

absl::StatusOr<std::unique_ptr<MultipleChoiceVerifier>> MultipleChoiceVerifier::Create(
    const Options& options) {
  return std::unique_ptr<MultipleChoiceVerifier>(new MultipleChoiceVerifier(options));
}

std::optional<char> MultipleChoiceVerifier::LetterIn(std::string_view text) const {
  text = Trim(text);
  // Drop wrappers: \text{...}, **...**, $...$.
  for (int round = 0; round < 3; ++round) {
    for (std::string_view prefix : {"\\text{", "\\textbf{", "\\mathrm{"}) {
      if (text.substr(0, prefix.size()) == prefix && !text.empty() && text.back() == '}') {
        text = Trim(text.substr(prefix.size(), text.size() - prefix.size() - 1));
      }
    }
    while (!text.empty() && (text.front() == '*' || text.front() == '$' || text.front() == '`')) {
      text.remove_prefix(1);
    }
    while (!text.empty() &&
           (text.back() == '*' || text.back() == '$' || text.back() == '`' || text.back() == '.')) {
      text.remove_suffix(1);
    }
    text = Trim(text);
  }
  std::string lower = absl::AsciiStrToLower(std::string(text.substr(0, 7)));
  if (lower.rfind("option ", 0) == 0) text = Trim(text.substr(7));
  if (lower.rfind("choice ", 0) == 0) text = Trim(text.substr(7));
  if (text.size() == 1) {
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    if (options_.letters.find(c) != std::string::npos) return c;
    return std::nullopt;
  }
  // "(C)", "(C) text", "C)", "C.", "C:", "C text" - an uppercase letter standing alone at
  // the start.
  size_t i = 0;
  if (i < text.size() && (text[i] == '(' || text[i] == '[')) ++i;
  if (i < text.size() && IsUpper(text[i]) && options_.letters.find(text[i]) != std::string::npos &&
      (i + 1 >= text.size() || !IsAlpha(text[i + 1]))) {
    return text[i];
  }
  return std::nullopt;
}

std::optional<char> MultipleChoiceVerifier::ChosenLetter(std::string_view response) const {
  if (auto boxed = LastBoxed(response)) {
    if (auto c = LetterIn(*boxed)) return c;
  }
  if (auto phrase = AfterAnswerPhrase(response)) {
    if (auto c = LetterIn(*phrase)) return c;
  }
  if (auto tagged = LastTagged(response, "answer")) {
    if (auto c = LetterIn(*tagged)) return c;
  }
  // The last "(C)" in the text.
  for (size_t i = response.size(); i-- > 2;) {
    if (response[i] == ')' && response[i - 2] == '(' && IsUpper(response[i - 1]) &&
        options_.letters.find(response[i - 1]) != std::string::npos) {
      return response[i - 1];
    }
  }
  if (auto c = LetterIn(response); c && Trim(response).size() <= 4) return c;
  return std::nullopt;
}

absl::StatusOr<VerifyResult> MultipleChoiceVerifier::Score(const VerifyInput& input) const {
  const nlohmann::json& truth = input.ground_truth;
  char gold = 0;
  if (truth.is_number_integer()) {
    int64_t index = truth.get<int64_t>();
    if (index < 0 || index >= static_cast<int64_t>(options_.letters.size())) {
      return absl::InvalidArgumentError(absl::StrCat("multiple_choice: ground_truth index ", index,
                                                     " is outside 0..",
                                                     options_.letters.size() - 1));
    }
    gold = options_.letters[index];
  } else if (truth.is_string()) {
    std::string text = truth.get<std::string>();
    if (auto c = LetterIn(text); c && Trim(text).size() <= 3) {
      gold = *c;
    } else if (input.metadata.is_object() && input.metadata.contains("choices") &&
               input.metadata["choices"].is_array()) {
      const nlohmann::json& choices = input.metadata["choices"];
      for (size_t k = 0; k < choices.size() && k < options_.letters.size(); ++k) {
        if (choices[k].is_string() && Trim(choices[k].get<std::string>()) == Trim(text)) {
          gold = options_.letters[k];
          break;
        }
      }
      if (gold == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("multiple_choice: ground_truth '", text.substr(0, 80),
                         "' is neither an option letter nor one of metadata.choices"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "multiple_choice: ground_truth '", text.substr(0, 80), "' is not one of the letters ",
          options_.letters, " (give metadata.choices to name the option by its text)"));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("multiple_choice: ground_truth must be an option letter, a 0-based index "
                     "or the option's text, got ",
                     truth.dump().substr(0, 80)));
  }
  VerifyResult result;
  std::optional<char> chosen = ChosenLetter(input.response);
  result.details["chosen"] = chosen ? nlohmann::json(std::string(1, *chosen)) : nlohmann::json();
  result.details["gold"] = std::string(1, gold);
  result.correct = chosen && *chosen == gold;
  result.score = *result.correct ? 1.0 : 0.0;
  return result;
}

}  // namespace ponder::reward
