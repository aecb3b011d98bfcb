// GSPO: PPO's clipped surrogate with the sequence ratio s_i = exp(mean_t (logp - old)) in place
// of the token ratio, written per token as exp(sg[log s_i] + logp - sg[logp]) (GSPO-token; the
// log ratio is clamped at 10), so the value is s_i and, with one advantage per sample (as GSPO
// defines it), the gradient is GSPO's.
// Options: clip_ratio_low, clip_ratio_high (GSPO uses 3e-4 / 4e-4), loss_agg_mode.
// Metrics: clipfrac, ppo_kl.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/policy_loss.h"

namespace ponder::trainer {

class GspoLoss : public PolicyLoss {
 public:
  GspoLoss(double clip_low, double clip_high, LossAggMode mode)
      : clip_low_(clip_low), clip_high_(clip_high), mode_(mode) {}
  static absl::StatusOr<std::unique_ptr<GspoLoss>> Create(const AlgorithmOptions& options);

  PolicyLossValue Compute(const PolicyLossInput& in, const LossScale& scale) const override;

 private:
  double clip_low_, clip_high_;
  LossAggMode mode_;
};

}  // namespace ponder::trainer
