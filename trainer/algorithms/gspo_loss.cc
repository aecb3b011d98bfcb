#include "trainer/algorithms/gspo_loss.h"

#include <ATen/ATen.h>

namespace ponder::trainer {

absl::StatusOr<std::unique_ptr<GspoLoss>> GspoLoss::Create(const AlgorithmOptions& options) {
  return std::make_unique<GspoLoss>(options.clip_ratio_low, options.clip_ratio_high,
                                    options.loss_agg_mode);
}

PolicyLossValue GspoLoss::Compute(const PolicyLossInput& in, const LossScale& scale) const {
  at::Tensor m = in.mask.to(in.log_probs.scalar_type());
  at::Tensor log_ratio = in.log_probs - in.old_log_probs;
  at::Tensor seq_log_ratio = (log_ratio * m).sum(1) / m.sum(1).clamp_min(1.0);
  at::Tensor token_log_ratio =
      seq_log_ratio.detach().unsqueeze(1) + in.log_probs - in.log_probs.detach();
  at::Tensor ratio = at::exp(token_log_ratio.clamp_max(10.0));
  const at::Tensor& adv = in.advantages;
  at::Tensor pg1 = -adv * ratio;
  at::Tensor pg2 = -adv * ratio.clamp(1.0 - clip_low_, 1.0 + clip_high_);
  PolicyLossValue out;
  out.loss = AggregatePolicyLoss(at::maximum(pg1, pg2), in, mode_, scale);
  out.clipfrac = MaskedTokenMean(pg2 > pg1, in.mask, scale);
  out.approx_kl = MaskedTokenMean(-log_ratio, in.mask, scale);
  return out;
}

}  // namespace ponder::trainer
