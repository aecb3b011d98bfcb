#include "reward/group_rewards.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::reward {

void LengthPenaltyOptions::Bind(config::Binder& b) {
  b.Field("enabled", enabled);
  b.Field("weight", weight).AtLeast(0.0);
  b.Field("start_step", start_step).AtLeast(0);
}

void OverlongOptions::Bind(config::Binder& b) {
  b.Field("enabled", enabled);
  b.Field("max_length", max_length).AtLeast(1);
  b.Field("cache_length", cache_length).AtLeast(1);
  b.Field("factor", factor).AtLeast(0.0);
}

absl::Status OverlongOptions::Validate() const {
  if (cache_length > max_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_length (", cache_length, ") must be <= max_length (", max_length, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> KimiLengthReward(const std::vector<int64_t>& lengths,
                                                     const std::vector<bool>& correct) {
  if (lengths.size() != correct.size()) {
    return absl::InvalidArgumentError(absl::StrCat("length_penalty: ", lengths.size(),
                                                   " lengths but ", correct.size(), " verdicts"));
  }
  std::vector<double> out(lengths.size(), 0.0);
  if (lengths.empty()) return out;
  for (int64_t len : lengths) {
    if (len < 0) {
      return absl::InvalidArgumentError(absl::StrCat("length_penalty: negative length ", len));
    }
  }
  auto [min_it, max_it] = std::minmax_element(lengths.begin(), lengths.end());
  const int64_t min_len = *min_it, max_len = *max_it;
  if (max_len == min_len) return out;
  for (size_t i = 0; i < lengths.size(); ++i) {
    double lambda =
        0.5 - static_cast<double>(lengths[i] - min_len) / static_cast<double>(max_len - min_len);
    out[i] = correct[i] ? lambda : std::min(0.0, lambda);
  }
  return out;
}

double OverlongPunishment(int64_t length, int64_t max_length, int64_t cache_length) {
  const int64_t safe = max_length - cache_length;
  if (length <= safe) return 0.0;
  if (length <= max_length) {
    return static_cast<double>(safe - length) / static_cast<double>(cache_length);
  }
  return -1.0;
}

absl::Status ApplyGroupRewards(const LengthPenaltyOptions& length_penalty,
                               const OverlongOptions& overlong, int64_t step,
                               const std::vector<int64_t>& lengths,
                               const std::vector<bool>& correct, std::vector<double>& scores) {
  if (scores.size() != lengths.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group rewards: ", scores.size(), " scores but ", lengths.size(), " lengths"));
  }
  if (length_penalty.enabled && step >= length_penalty.start_step) {
    PONDER_ASSIGN_OR_RETURN(std::vector<double> bonus, KimiLengthReward(lengths, correct));
    for (size_t i = 0; i < scores.size(); ++i) scores[i] += length_penalty.weight * bonus[i];
  }
  if (overlong.enabled) {
    for (size_t i = 0; i < scores.size(); ++i) {
      scores[i] += overlong.factor *
                   OverlongPunishment(lengths[i], overlong.max_length, overlong.cache_length);
    }
  }
  return absl::OkStatus();
}

}  // namespace ponder::reward
