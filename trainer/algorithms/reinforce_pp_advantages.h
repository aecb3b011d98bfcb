// REINFORCE++: discounted returns G_t = r_t + gamma G_{t+1} of the token rewards (the score at
// the last token), whitened over the batch's response tokens. With `group_baseline`
// (reinforce_pp_baseline), the score is first centred on its prompt's mean: s_i - mean_g.
// Options: gamma.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/advantage_estimator.h"

namespace ponder::trainer {

class ReinforcePPAdvantages : public AdvantageEstimator {
 public:
  ReinforcePPAdvantages(double gamma, bool group_baseline)
      : gamma_(gamma), group_baseline_(group_baseline) {}
  absl::StatusOr<Advantages> Compute(const AdvantageInput& input) const override;

 private:
  double gamma_;
  bool group_baseline_;
};

// reinforce_pp
class ReinforcePPPlainAdvantages : public ReinforcePPAdvantages {
 public:
  using ReinforcePPAdvantages::ReinforcePPAdvantages;
  static absl::StatusOr<std::unique_ptr<ReinforcePPPlainAdvantages>> Create(
      const AlgorithmOptions& options) {
    return std::make_unique<ReinforcePPPlainAdvantages>(options.gamma, false);
  }
};

// reinforce_pp_baseline
class ReinforcePPBaselineAdvantages : public ReinforcePPAdvantages {
 public:
  using ReinforcePPAdvantages::ReinforcePPAdvantages;
  static absl::StatusOr<std::unique_ptr<ReinforcePPBaselineAdvantages>> Create(
      const AlgorithmOptions& options) {
    return std::make_unique<ReinforcePPBaselineAdvantages>(options.gamma, true);
  }
};

}  // namespace ponder::trainer
