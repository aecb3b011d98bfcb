#include "reward/exact_match_verifier.h"

#include "absl/strings/str_cat.h"

namespace ponder::reward {

void ExactMatchOptions::Bind(config::Binder& b) {
  location.Bind(b);
  b.Field("case_sensitive", case_sensitive);
  b.Field("strip_punctuation", strip_punctuation);
}

absl::StatusOr<std::vector<std::string>> GroundTruthStrings(const nlohmann::json& truth,
                                                            const char* verifier) {
  std::vector<std::string> out;
  auto add = [&out](const nlohmann::json& j) {
    if (j.is_string()) {
      out.push_back(j.get<std::string>());
    } else if (j.is_number_integer()) {
      out.push_back(std::to_string(j.get<int64_t>()));
    } else if (j.is_number()) {
      out.push_back(j.dump());
    } else {
      return false;
    }
    return true;
  };
  bool ok = truth.is_array() && !truth.empty();
  if (ok) {
    for (const auto& item : truth) ok = ok && add(item);
  } else {
    ok = add(truth);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        verifier, ": ground_truth must be a string, a number or a non-empty list of them, got ",
        truth.dump().substr(0, 80)));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ExactMatchVerifier>> ExactMatchVerifier::Create(
    const Options& options) {
  absl::StatusOr<AnswerLocator> locator = AnswerLocator::Create(options.location);
  if (!locator.ok()) return locator.status();
  return std::unique_ptr<ExactMatchVerifier>(new ExactMatchVerifier(options, *std::move(locator)));
}

absl::StatusOr<VerifyResult> ExactMatchVerifier::Score(const VerifyInput& input) const {
  absl::StatusOr<std::vector<std::string>> golds =
      GroundTruthStrings(input.ground_truth, "exact_match");
  if (!golds.ok()) return golds.status();
  VerifyResult result;
  std::optional<std::string> answer = locator_.Find(input.response);
  result.details["extracted"] = answer ? nlohmann::json(*answer) : nlohmann::json();
  result.correct = false;
  if (!answer) return result;
  std::string got = CanonicalText(*answer, options_.case_sensitive, options_.strip_punctuation);
  for (const std::string& gold : *golds) {
    if (CanonicalText(gold, options_.case_sensitive, options_.strip_punctuation) == got) {
      result.correct = true;
      result.score = 1.0;
      break;
    }
  }
  return result;
}

}  // namespace ponder::reward
