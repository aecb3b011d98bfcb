#include "reward/math_verifier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/answer_extraction.h"
#include "reward/internal/math_equivalence.h"
#include "reward/internal/math_expr.h"
#include "reward/internal/math_normalize.h"

namespace ponder::reward {
namespace {

constexpr const char* kMethods[] = {"boxed", "hashes", "answer_phrase"};

bool KnownMethod(const std::string& m) {
  return std::find(std::begin(kMethods), std::end(kMethods), m) != std::end(kMethods);
}

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A plain word answer ("east", "Evelyn", "odd function"): compared as text, not as a product
// of variables.
bool IsPlainWords(const std::string& s) {
  size_t run = 0, longest = 0;
  for (char c : s) {
    if (IsLetter(c)) {
      longest = std::max(longest, ++run);
    } else if (c == ' ' || c == '-' || c == '\'') {
      run = 0;
    } else {
      return false;
    }
  }
  return longest >= 2;
}

absl::StatusOr<internal::Expr> ParseAnswer(const std::string& normalized) {
  if (IsPlainWords(normalized)) {
    internal::Expr text;
    text.kind = internal::Expr::Kind::kText;
    text.name = normalized;
    return text;
  }
  return internal::ParseMath(normalized);
}

// The gold answer inside a ground truth that is a whole solution.
std::string_view ReduceGold(std::string_view gold) {
  if (gold.find("\\boxed") != std::string_view::npos ||
      gold.find("\\fbox") != std::string_view::npos) {
    if (std::optional<std::string_view> boxed = LastBoxed(gold)) return *boxed;
  }
  if (gold.find("####") != std::string_view::npos) {
    if (std::optional<std::string_view> hashes = AfterLastHashes(gold)) return *hashes;
  }
  return Trim(gold);
}

}  // namespace

void MathOptions::Bind(config::Binder& b) {
  b.Field("extract", extract)
      .Must(std::all_of(extract.begin(), extract.end(), KnownMethod),
            "list only boxed, hashes and answer_phrase");
  b.Field("fallback_last_number", fallback_last_number);
  b.Field("tail_chars", tail_chars).AtLeast(0);
  b.Field("correct_score", correct_score);
  b.Field("incorrect_score", incorrect_score);
  b.Field("no_answer_score", no_answer_score);
  b.Field("tolerance", tolerance).InRange(0.0, 0.1);
  b.Field("decimal_tolerance", decimal_tolerance).InRange(0.0, 0.1);
  b.Field("random_points", random_points).InRange(3, 100);
  b.Field("max_answer_chars", max_answer_chars).AtLeast(1);
}

std::optional<ExtractedAnswer> ExtractMathAnswer(std::string_view response,
                                                 const MathOptions& options) {
  if (options.tail_chars > 0 && response.size() > static_cast<size_t>(options.tail_chars)) {
    response = response.substr(response.size() - options.tail_chars);
  }
  for (const std::string& method : options.extract) {
    std::optional<std::string_view> found;
    if (method == "boxed") {
      found = LastBoxed(response);
    } else if (method == "hashes") {
      found = AfterLastHashes(response);
    } else if (method == "answer_phrase") {
      found = AfterAnswerPhrase(response);
      // "The answer is \boxed{5}" is read by "boxed" first; here strip a box if present.
      if (found) {
        if (std::optional<std::string_view> inner = LastBoxed(*found)) found = inner;
      }
    }
    if (found && !Trim(*found).empty()) return ExtractedAnswer{std::string(*found), method};
  }
  if (options.fallback_last_number) {
    if (std::optional<std::string_view> number = LastNumber(response)) {
      return ExtractedAnswer{std::string(*number), "last_number"};
    }
  }
  return std::nullopt;
}

bool MathAnswersEqual(std::string_view gold, std::string_view pred, const MathOptions& options,
                      absl::Time deadline) {
  std::string g = internal::NormalizeAnswer(ReduceGold(gold));
  std::string p = internal::NormalizeAnswer(pred);
  if (p.empty() || g.empty()) return false;
  if (g == p) return true;
  if (static_cast<int64_t>(p.size()) > options.max_answer_chars ||
      static_cast<int64_t>(g.size()) > options.max_answer_chars) {
    return false;
  }
  absl::StatusOr<internal::Expr> gold_expr = ParseAnswer(g);
  if (!gold_expr.ok()) return false;
  absl::StatusOr<internal::Expr> pred_expr = ParseAnswer(p);
  if (!pred_expr.ok()) return false;
  internal::EquivalenceOptions eq;
  eq.tolerance = options.tolerance;
  eq.decimal_tolerance = options.decimal_tolerance;
  eq.random_points = static_cast<int>(options.random_points);
  eq.deadline = deadline;
  return internal::Equivalent(*gold_expr, *pred_expr, eq);
}

absl::StatusOr<std::unique_ptr<MathVerifier>> MathVerifier::Create(const Options& options) {
  return std::unique_ptr<MathVerifier>(new MathVerifier(options));
}

absl::StatusOr<VerifyResult> MathVerifier::Score(const VerifyInput& input) const {
  std::vector<std::string> golds;
  const nlohmann::json& truth = input.ground_truth;
  if (truth.is_string()) {
    golds.push_back(truth.get<std::string>());
  } else if (truth.is_number_integer()) {
    golds.push_back(std::to_string(truth.get<int64_t>()));
  } else if (truth.is_number()) {
    golds.push_back(truth.dump());
  } else if (truth.is_array() && !truth.empty() &&
             std::all_of(truth.begin(), truth.end(),
                         [](const nlohmann::json& j) { return j.is_string(); })) {
    for (const auto& j : truth) golds.push_back(j.get<std::string>());
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "math: ground_truth must be the gold answer as a string (or a number, or a list of "
        "accepted strings), got ",
        truth.is_null() ? "null" : truth.type_name(), ": ", truth.dump().substr(0, 80)));
  }
  for (const std::string& g : golds) {
    if (Trim(g).empty()) return absl::InvalidArgumentError("math: ground_truth is empty");
  }

  VerifyResult result;
  std::optional<ExtractedAnswer> extracted = ExtractMathAnswer(input.response, options_);
  result.details["gold"] = golds.size() == 1 ? nlohmann::json(golds[0]) : nlohmann::json(golds);
  if (!extracted) {
    result.score = options_.no_answer_score;
    result.correct = false;
    result.details["extracted"] = nullptr;
    return result;
  }
  result.details["extracted"] = extracted->answer;
  result.details["method"] = extracted->method;
  bool correct = false;
  for (const std::string& g : golds) {
    if (MathAnswersEqual(g, extracted->answer, options_, input.deadline)) {
      correct = true;
      break;
    }
  }
  result.correct = correct;
  result.score = correct ? options_.correct_score : options_.incorrect_score;
  return result;
}

}  // namespace ponder::reward
