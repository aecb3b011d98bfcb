// GAE with a critic (PPO, VAPO): advantages with lambda `lam` (or VAPO's length-adaptive
// lam_i = 1 - 1/(lam_length_alpha * len_i)), critic targets with `lam_critic` (decoupled
// GAE), advantages whitened over the batch with whiten_advantages. Formulas: advantages.h.
// Options: gamma, lam, lam_critic, lam_length_alpha, whiten_advantages.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "trainer/advantage_estimator.h"

namespace ponder::trainer {

class GaeAdvantages : public AdvantageEstimator {
 public:
  explicit GaeAdvantages(const AlgorithmOptions& options) : options_(options) {}
  static absl::StatusOr<std::unique_ptr<GaeAdvantages>> Create(const AlgorithmOptions& options) {
    return std::make_unique<GaeAdvantages>(options);
  }
  absl::StatusOr<Advantages> Compute(const AdvantageInput& input) const override;
  bool NeedsCritic() const override { return true; }

 private:
  AlgorithmOptions options_;
};

}  // namespace ponder::trainer
