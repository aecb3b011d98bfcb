#include "trainer/algorithms/reinforce_pp_advantages.h"

#include <ATen/ATen.h>

namespace ponder::trainer {

absl::StatusOr<Advantages> ReinforcePPAdvantages::Compute(const AdvantageInput& in) const {
  at::Tensor mask = in.mask.to(in.scores.scalar_type());
  at::Tensor scores = in.scores;
  if (group_baseline_) {
    absl::StatusOr<at::Tensor> centered =
        GroupAdvantages(in.scores, in.group_ids, GroupBaseline::kMean);
    if (!centered.ok()) return centered.status();
    scores = *centered;
  }
  at::Tensor returns = DiscountedReturns(PlaceScores(scores, mask, in.token_rewards), mask, gamma_);
  Advantages out;
  out.advantages = MaskedWhiten(returns, mask);
  out.returns = returns;
  return out;
}

}  // namespace ponder::trainer
