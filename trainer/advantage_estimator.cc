#include "trainer/advantage_estimator.h"

#include "base/status.h"

namespace ponder::trainer {

absl::StatusOr<Advantages> ComputeAdvantages(const AdvantageEstimator& estimator,
                                             const AdvantageInput& input) {
  PONDER_RETURN_IF_ERROR(CheckAdvantageInput(input));
  return estimator.Compute(input);
}

absl::StatusOr<Advantages> ComputeAdvantages(const AlgorithmOptions& options,
                                             const AdvantageInput& input) {
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<AdvantageEstimator> estimator,
                          AdvantageEstimators().Create(options.adv_estimator, options));
  return ComputeAdvantages(*estimator, input);
}

}  // namespace ponder::trainer
