// Group reward shaping: rewards that need the whole group of responses to one prompt,
// applied by the learner before advantages (learner.h), and its binding to the reward
// library's group rewards -- Kimi k1.5's length penalty (with its warm-up) and DAPO's soft
// overlong punishment, as configured in the `reward:` section (reward/group_rewards.h).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"

namespace ponder::reward {
struct LengthPenaltyOptions;
struct OverlongOptions;
}  // namespace ponder::reward

namespace ponder::trainer {

// Called once per group with its samples' response lengths (tokens), correct flags and
// scores, which it may change in place; `step` is the training step.
using GroupShaping =
    std::function<absl::Status(int64_t step, const std::vector<int64_t>& lengths,
                               const std::vector<bool>& correct, std::vector<double>& scores)>;

// reward::ApplyGroupRewards with these options; an empty function when neither is enabled.
GroupShaping RewardGroupShaping(const reward::LengthPenaltyOptions& length_penalty,
                                const reward::OverlongOptions& overlong);

}  // namespace ponder::trainer
