#include "trainer/group_shaping.h"

#include "reward/group_rewards.h"

namespace ponder::trainer {

GroupShaping RewardGroupShaping(const reward::LengthPenaltyOptions& length_penalty,
                                const reward::OverlongOptions& overlong) {
  if (!length_penalty.enabled && !overlong.enabled) return nullptr;
  return [length_penalty, overlong](int64_t step, const std::vector<int64_t>& lengths,
                                    const std::vector<bool>& correct, std::vector<double>& scores) {
    return reward::ApplyGroupRewards(length_penalty, overlong, step, lengths, correct, scores);
  };
}

}  // namespace ponder::trainer
