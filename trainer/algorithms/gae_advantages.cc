#include "trainer/algorithms/gae_advantages.h"

#include <ATen/ATen.h>

namespace ponder::trainer {

absl::StatusOr<Advantages> GaeAdvantages::Compute(const AdvantageInput& in) const {
  if (!in.values.defined() || !in.values.sizes().equals(in.mask.sizes())) {
    return absl::InvalidArgumentError(
        "adv_estimator gae needs critic values with the response mask's shape");
  }
  const AlgorithmOptions& o = options_;
  at::Tensor mask = in.mask.to(in.scores.scalar_type());
  at::Tensor values = in.values.to(in.scores.scalar_type()) * mask;
  at::Tensor rewards = PlaceScores(in.scores, mask, in.token_rewards);
  at::Tensor lam;
  if (o.lam_length_alpha > 0) {
    at::Tensor lengths = mask.sum(1);
    lam = (1.0 - 1.0 / (o.lam_length_alpha * lengths.clamp_min(1e-12))).clamp(0.0, 1.0);
  } else {
    lam = at::full({mask.size(0)}, o.lam, mask.options());
  }
  at::Tensor adv = Gae(rewards, values, mask, o.gamma, lam);
  at::Tensor lam_critic = at::full({mask.size(0)}, o.lam_critic, mask.options());
  Advantages out;
  out.returns = (Gae(rewards, values, mask, o.gamma, lam_critic) + values) * mask;
  out.advantages = o.whiten_advantages ? MaskedWhiten(adv, mask) : adv;
  return out;
}

}  // namespace ponder::trainer
