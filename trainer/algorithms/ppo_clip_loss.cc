#include "trainer/algorithms/ppo_clip_loss.h"

#include <ATen/ATen.h>

namespace ponder::trainer {

absl::StatusOr<std::unique_ptr<PpoClipLoss>> PpoClipLoss::Create(const AlgorithmOptions& options) {
  return std::make_unique<PpoClipLoss>(options.clip_ratio_low, options.clip_ratio_high,
                                       options.clip_ratio_c, options.loss_agg_mode);
}

PolicyLossValue PpoClipLoss::Compute(const PolicyLossInput& in, const LossScale& scale) const {
  const at::Tensor& adv = in.advantages;
  at::Tensor log_ratio = (in.log_probs - in.old_log_probs).clamp(-20.0, 20.0);
  at::Tensor ratio = at::exp(log_ratio);
  at::Tensor pg1 = -adv * ratio;
  at::Tensor pg2 = -adv * ratio.clamp(1.0 - clip_low_, 1.0 + clip_high_);
  at::Tensor clipped = at::maximum(pg1, pg2);
  PolicyLossValue out;
  out.clipfrac = MaskedTokenMean(pg2 > pg1, in.mask, scale);
  at::Tensor loss = clipped;
  if (clip_c_ > 0) {
    at::Tensor pg3 = -adv * clip_c_;
    at::Tensor dual = at::minimum(pg3, clipped);
    at::Tensor negative = adv < 0;
    loss = at::where(negative, dual, clipped);
    out.clipfrac_lower = MaskedTokenMean(negative & (clipped > pg3), in.mask, scale);
  }
  out.approx_kl = MaskedTokenMean(-log_ratio, in.mask, scale);
  out.loss = AggregatePolicyLoss(loss, in, mode_, scale);
  return out;
}

}  // namespace ponder::trainer
