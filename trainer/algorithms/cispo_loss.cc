#include "trainer/algorithms/cispo_loss.h"

#include <ATen/ATen.h>

namespace ponder::trainer {

absl::StatusOr<std::unique_ptr<CispoLoss>> CispoLoss::Create(const AlgorithmOptions& options) {
  return std::make_unique<CispoLoss>(options.clip_ratio_low, options.clip_ratio_high,
                                     options.loss_agg_mode);
}

PolicyLossValue CispoLoss::Compute(const PolicyLossInput& in, const LossScale& scale) const {
  at::Tensor log_ratio = (in.log_probs - in.old_log_probs).detach().clamp(-20.0, 20.0);
  at::Tensor ratio = at::exp(log_ratio);
  const double low = 1.0 - clip_low_, high = 1.0 + clip_high_;
  at::Tensor weight = ratio.clamp(low, high);
  PolicyLossValue out;
  out.loss = AggregatePolicyLoss(-weight * in.advantages * in.log_probs, in, mode_, scale);
  out.clipfrac = MaskedTokenMean((ratio < low) | (ratio > high), in.mask, scale);
  out.approx_kl = MaskedTokenMean(-log_ratio, in.mask, scale);
  return out;
}

}  // namespace ponder::trainer
