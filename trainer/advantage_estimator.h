// The advantage estimator: an interface with one implementation per variant
// (trainer/algorithms/), registered by name in trainer/algorithm_list.cc and chosen by
// `algorithm.adv_estimator`. Its options are the `algorithm:` section's (gamma, lam,
// norm_adv_by_std_in_grpo ...). The formulas are in advantages.h.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "base/registry.h"
#include "trainer/advantages.h"
#include "trainer/algorithm_options.h"

namespace ponder::trainer {

class AdvantageEstimator {
 public:
  virtual ~AdvantageEstimator() = default;
  // `input` has passed CheckAdvantageInput. InvalidArgument for what the estimator cannot
  // use (missing critic values, an rloo group of one sample ...), naming it.
  virtual absl::StatusOr<Advantages> Compute(const AdvantageInput& input) const = 0;
  // Whether it needs critic values (AdvantageInput::values), i.e. a value model.
  virtual bool NeedsCritic() const { return false; }
};

using AdvantageEstimatorRegistry = Registry<AdvantageEstimator, AlgorithmOptions>;
// The built-in estimators (trainer/algorithm_list.cc), registered once; read-only.
const AdvantageEstimatorRegistry& AdvantageEstimators();

// CheckAdvantageInput, then `estimator`.
absl::StatusOr<Advantages> ComputeAdvantages(const AdvantageEstimator& estimator,
                                             const AdvantageInput& input);
// The estimator options.adv_estimator names, on `input`.
absl::StatusOr<Advantages> ComputeAdvantages(const AlgorithmOptions& options,
                                             const AdvantageInput& input);

}  // namespace ponder::trainer
