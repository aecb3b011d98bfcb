// Kimi k1.5's policy loss, per sample:
//   -A_i * sum_t w_t logp_t + tau/2 * (sum_t logp_t - sum_t old_t)^2,
// averaged over the mini-batch's samples (whatever loss_agg_mode is); A_i the sample's
// advantage (one per sample), `old` the log-probs at the start of the step (pi_ref of Kimi
// k1.5), w_t the per-token weights (1 unless a rollout correction sets them).
// Options: kimi_tau. It needs one advantage per sample, so not adv_estimator gae.
// Metrics: ppo_kl (clipfrac is 0: nothing is clipped).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/policy_loss.h"

namespace ponder::trainer {

class KimiLoss : public PolicyLoss {
 public:
  explicit KimiLoss(double tau) : tau_(tau) {}
  static absl::StatusOr<std::unique_ptr<KimiLoss>> Create(const AlgorithmOptions& options);

  PolicyLossValue Compute(const PolicyLossInput& in, const LossScale& scale) const override;

 private:
  double tau_;
};

}  // namespace ponder::trainer
