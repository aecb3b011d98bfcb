// RLOO: A_i = s_i - the mean score of the other samples of its prompt (needs >= 2 samples per
// prompt). One advantage per sample, broadcast over its tokens.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/advantage_estimator.h"

namespace ponder::trainer {

class RlooAdvantages : public AdvantageEstimator {
 public:
  static absl::StatusOr<std::unique_ptr<RlooAdvantages>> Create(const AlgorithmOptions&) {
    return std::make_unique<RlooAdvantages>();
  }
  absl::StatusOr<Advantages> Compute(const AdvantageInput& input) const override {
    return SequenceGroupAdvantages(input, GroupBaseline::kLeaveOneOut);
  }
};

}  // namespace ponder::trainer
