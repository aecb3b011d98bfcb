// Kimi k1.5's mean-reward baseline: A_i = s_i - mean_g over the samples of its prompt. One
// advantage per sample, broadcast over its tokens (what policy_loss kimi expects).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/advantage_estimator.h"

namespace ponder::trainer {

class KimiAdvantages : public AdvantageEstimator {
 public:
  static absl::StatusOr<std::unique_ptr<KimiAdvantages>> Create(const AlgorithmOptions&) {
    return std::make_unique<KimiAdvantages>();
  }
  absl::StatusOr<Advantages> Compute(const AdvantageInput& input) const override {
    return SequenceGroupAdvantages(input, GroupBaseline::kMean);
  }
};

}  // namespace ponder::trainer
