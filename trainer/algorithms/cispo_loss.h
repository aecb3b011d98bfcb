// CISPO (MiniMax-M1, arXiv 2506.13585): clip the importance weight, not the update. The token
// ratio is clipped and detached, and every token keeps the gradient of its log-probability:
//   r = exp(clamp(logp - old, -20, 20)),
//   l = -sg(clip(r, 1 - eps_low, 1 + eps_high)) * A * logp;  aggregated by loss_agg_mode.
// (PPO's clip zeroes the gradient of tokens outside the trust region; here they still count,
// with a bounded weight.) MiniMax-M1 bounds only the top: clip_ratio_low 1 leaves the weight
// unbounded below.
// Options: clip_ratio_low (eps_low), clip_ratio_high (eps_high), loss_agg_mode.
// Metrics: clipfrac (share of tokens whose weight was clipped), ppo_kl.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/policy_loss.h"

namespace ponder::trainer {

class CispoLoss : public PolicyLoss {
 public:
  CispoLoss(double clip_low, double clip_high, LossAggMode mode)
      : clip_low_(clip_low), clip_high_(clip_high), mode_(mode) {}
  static absl::StatusOr<std::unique_ptr<CispoLoss>> Create(const AlgorithmOptions& options);

  PolicyLossValue Compute(const PolicyLossInput& in, const LossScale& scale) const override;

 private:
  double clip_low_, clip_high_;
  LossAggMode mode_;
};

}  // namespace ponder::trainer
