// PPO's clipped surrogate, with clip-higher (DAPO) and dual clip:
//   rho = exp(clamp(logp - old, -20, 20)),
//   l = max(-A rho, -A clip(rho, 1 - eps_low, 1 + eps_high)); with dual clip c > 0, for A < 0,
//   l = min(l, -A c); aggregated by loss_agg_mode.
// Options: clip_ratio_low (eps_low), clip_ratio_high (eps_high), clip_ratio_c (c; 0: off),
// loss_agg_mode. Metrics: clipfrac, clipfrac_lower (with dual clip), ppo_kl.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/policy_loss.h"

namespace ponder::trainer {

class PpoClipLoss : public PolicyLoss {
 public:
  PpoClipLoss(double clip_low, double clip_high, double clip_c, LossAggMode mode)
      : clip_low_(clip_low), clip_high_(clip_high), clip_c_(clip_c), mode_(mode) {}
  static absl::StatusOr<std::unique_ptr<PpoClipLoss>> Create(const AlgorithmOptions& options);

  PolicyLossValue Compute(const PolicyLossInput& in, const LossScale& scale) const override;

 private:
  double clip_low_, clip_high_, clip_c_;
  LossAggMode mode_;
};

}  // namespace ponder::trainer
