// Token masking for the rollout/trainer gap (IcePop-style, Ling team 2025): instead of
// weighting, drop from the loss every token whose ratio pi_old / pi_behaviour (from log-probs
// clamped at +-20) leaves [1/C, C] -- the tokens where the rollout engine and the trainer
// disagree most, whose gradients are the noisiest. The remaining tokens are unweighted; the
// loss is normalised by the tokens (and sequences) that remain.
//
//   algorithm:
//     rollout_correction: {name: token_mask, options: {cap: 2.0}}
//
// Options: cap (C > 1; default 2). Metrics: rollout_corr/masked_frac (share of the loss's
// tokens dropped).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {

class TokenMaskCorrection : public RolloutCorrection {
 public:
  struct Options {
    double cap = 2.0;
    void Bind(config::Binder& b);
  };
  explicit TokenMaskCorrection(double cap) : cap_(cap) {}
  static absl::StatusOr<std::unique_ptr<TokenMaskCorrection>> Create(const Options& options);

  RolloutCorrectionOutput Apply(const RolloutCorrectionInput& input) const override;

 private:
  double cap_;
};

}  // namespace ponder::trainer
