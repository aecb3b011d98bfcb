// GRPO's group baseline: A_i = (s_i - mean_g) / (std_g + 1e-6) over the samples of a prompt
// (std unbiased), or s_i - mean_g without the std (Dr. GRPO, norm_adv_by_std_in_grpo: false);
// a group of one sample gets 0. One advantage per sample, broadcast over its tokens.
// Options: norm_adv_by_std_in_grpo.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/advantage_estimator.h"

namespace ponder::trainer {

class GroupBaselineAdvantages : public AdvantageEstimator {
 public:
  explicit GroupBaselineAdvantages(bool divide_by_std) : divide_by_std_(divide_by_std) {}
  static absl::StatusOr<std::unique_ptr<GroupBaselineAdvantages>> Create(
      const AlgorithmOptions& options) {
    return std::make_unique<GroupBaselineAdvantages>(options.norm_adv_by_std_in_grpo);
  }
  absl::StatusOr<Advantages> Compute(const AdvantageInput& input) const override {
    return SequenceGroupAdvantages(input,
                                   divide_by_std_ ? GroupBaseline::kMeanStd : GroupBaseline::kMean);
  }

 private:
  bool divide_by_std_;
};

}  // namespace ponder::trainer
