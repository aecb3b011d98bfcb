#include "reward/math_verifier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "reward/answer_extraction.h"
#include "reward/internal/math_answer.h"
#include "reward/internal/math_equivalence.h"
#include "reward/internal/math_normalize.h"

namespace ponder::reward {
namespace {

constexpr const char* kMethods[] = {"boxed", "hashes", "answer_phrase", "latex"};

bool KnownMethod(const std::string& m) {
  return std::find(std::begin(kMethods), std::end(kMethods), m) != std::end(kMethods);
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

std::string Shorten(std::string_view s) {
  return s.size() > 80 ? std::string(s.substr(0, 77)) + "..." : std::string(s);
}

MathVerdict NotEqual(std::string reason) {
  MathVerdict v;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

void MathOptions::Bind(config::Binder& b) {
  b.Field("extract", extract)
      .Must(std::all_of(extract.begin(), extract.end(), KnownMethod),
            "list only boxed, hashes, answer_phrase and latex");
  b.Field("fallback_last_number", fallback_last_number);
  b.Field("require_boxed", require_boxed);
  b.Field("tail_chars", tail_chars).AtLeast(0);
  b.Field("correct_score", correct_score);
  b.Field("incorrect_score", incorrect_score);
  b.Field("no_answer_score", no_answer_score);
  b.Field("decimal_places", decimal_places).InRange(0, 15);
  b.Field("tolerance", tolerance).InRange(0.0, 0.1);
  b.Field("random_points", random_points).InRange(3, 100);
  b.Field("tuple_matches_set", tuple_matches_set);
  b.Field("max_answer_chars", max_answer_chars).AtLeast(1);
  b.Field("time_limit_s", time_limit_s).GreaterThan(0.0);
}

MathVerdict CompareMathAnswers(std::string_view gold, std::string_view pred,
                               const MathOptions& options, absl::Time deadline) {
  std::string g = internal::NormalizeAnswer(ReduceGold(gold));
  std::string p = internal::NormalizeAnswer(pred);
  if (p.empty()) return NotEqual("the answer is empty");
  if (g.empty()) return NotEqual("the gold answer is empty");
  if (g == p) return MathVerdict{true, ""};
  if (static_cast<int64_t>(p.size()) > options.max_answer_chars ||
      static_cast<int64_t>(g.size()) > options.max_answer_chars) {
    return NotEqual(absl::StrCat("an answer longer than max_answer_chars (",
                                 options.max_answer_chars, ") is compared as text only"));
  }
  absl::StatusOr<internal::Expr> gold_expr = internal::ReadAnswer(g);
  if (!gold_expr.ok()) {
    return NotEqual(absl::StrCat("the gold answer '", Shorten(g),
                                 "' could not be read: ", gold_expr.status().message()));
  }
  absl::StatusOr<internal::Expr> pred_expr = internal::ReadAnswer(p);
  if (!pred_expr.ok()) {
    return NotEqual(absl::StrCat("the answer '", Shorten(p),
                                 "' could not be read: ", pred_expr.status().message()));
  }
  internal::EquivalenceOptions eq;
  eq.tolerance = options.tolerance;
  eq.decimal_places = static_cast<int>(options.decimal_places);
  eq.random_points = static_cast<int>(options.random_points);
  eq.tuple_matches_set = options.tuple_matches_set;
  eq.deadline = deadline;
  internal::Verdict verdict = internal::Compare(*gold_expr, *pred_expr, eq);
  return MathVerdict{verdict.equal, verdict.reason};
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
    result.details["reason"] = options_.require_boxed
                                   ? "no \\boxed{} answer in the response (require_boxed)"
                                   : "no answer found in the response";
    return result;
  }
  result.details["extracted"] = extracted->answer;
  result.details["method"] = extracted->method;
  absl::Time deadline =
      std::min(input.deadline, absl::Now() + absl::Seconds(options_.time_limit_s));
  MathVerdict verdict;
  for (const std::string& g : golds) {
    MathVerdict v = CompareMathAnswers(g, extracted->answer, options_, deadline);
    if (v.equal || verdict.reason.empty()) verdict = v;
    if (v.equal) break;
  }
  result.correct = verdict.equal;
  result.score = verdict.equal ? options_.correct_score : options_.incorrect_score;
  if (!verdict.equal) result.details["reason"] = verdict.reason;
  return result;
}

}  // namespace ponder::reward
