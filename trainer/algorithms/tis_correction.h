// Truncated importance sampling (TIS; Yao et al. 2025, "Your Efficient RL Framework Secretly
// Brings You Off-Policy RL Training"): the rollout engine samples from pi_behaviour, not from
// the trainer's pi_old, so each token's policy-gradient term is weighted by
//   w = min(pi_old / pi_behaviour, C)   (ratio from log-probs clamped at +-20),
// the importance weight truncated at C to bound its variance. The weights are constants (no
// gradient) and apply on top of any policy loss (policy_loss.h).
//
//   algorithm:
//     rollout_correction: {name: tis, options: {cap: 2.0}}
//
// Options: cap (C >= 1; default 2). Metrics: rollout_corr/tis_weight/mean (over the loss's
// tokens), rollout_corr/tis_capped_frac (share of those tokens whose ratio exceeded C).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {

class TisCorrection : public RolloutCorrection {
 public:
  struct Options {
    double cap = 2.0;
    void Bind(config::Binder& b);
  };
  explicit TisCorrection(double cap) : cap_(cap) {}
  static absl::StatusOr<std::unique_ptr<TisCorrection>> Create(const Options& options);

  RolloutCorrectionOutput Apply(const RolloutCorrectionInput& input) const override;

 private:
  double cap_;
};

}  // namespace ponder::trainer
