// Rewards that need the whole group of responses to one prompt, applied by the trainer where
// it has the group (after the per-sample verifiers have scored it).
//
//  - length_penalty (Kimi k1.5 §2.3.3, docs/design/algorithms.md §1.4): with len_min/len_max the
//    shortest/longest response of the group, lambda_i = 0.5 - (len_i - len_min) /
//    (len_max - len_min); the length reward is lambda_i for a correct response and
//    min(0, lambda_i) for a wrong one; 0 for all when every length is equal. It is added to
//    the score with `weight`, from training step `start_step` on (Kimi warms up without it).
//  - overlong (DAPO §3.4, eq. 13, soft overlong punishment): with L_max = max_length and
//    L_cache = cache_length, a response of length |y| gets 0 when |y| <= L_max - L_cache,
//    ((L_max - L_cache) - |y|) / L_cache when L_max - L_cache < |y| <= L_max, and -1 beyond
//    L_max; times `factor` (verl's penalty factor), added to the score.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::reward {

struct LengthPenaltyOptions {
  bool enabled = false;
  double weight = 1.0;
  int64_t start_step = 0;  // training step from which it applies
  void Bind(config::Binder& b);
};

struct OverlongOptions {
  bool enabled = false;
  int64_t max_length = 20480;   // L_max, tokens
  int64_t cache_length = 4096;  // L_cache, tokens
  double factor = 1.0;
  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// Kimi's length reward for one group; `lengths` and `correct` have one entry per response.
// Errors when the sizes differ or a length is negative.
absl::StatusOr<std::vector<double>> KimiLengthReward(const std::vector<int64_t>& lengths,
                                                     const std::vector<bool>& correct);

// DAPO's soft overlong punishment of one response (before `factor`).
double OverlongPunishment(int64_t length, int64_t max_length, int64_t cache_length);

// Adds the enabled group terms to `scores` in place: weight * KimiLengthReward (when
// `step >= start_step`) and factor * OverlongPunishment. Sizes must agree.
absl::Status ApplyGroupRewards(const LengthPenaltyOptions& length_penalty,
                               const OverlongOptions& overlong, int64_t step,
                               const std::vector<int64_t>& lengths,
                               const std::vector<bool>& correct, std::vector<double>& scores);

}  // namespace ponder::reward
