// Rollout correction: what the policy loss does about the gap between the rollout's log-probs
// (pi_behaviour, recorded per token as the samples were drawn) and the trainer's at the start
// of the step (pi_old) -- a different engine, precision, or weight version (asynchronous
// rollouts). A correction turns the two into per-token weights on the policy-gradient term
// and/or a narrower loss mask, once per step, and reports `rollout_corr/*` metrics.
//
//   algorithm:
//     rollout_correction: {name: <registered correction>, options: {...}}   # off by default
//
// Variants live in trainer/algorithms/ and are registered in trainer/algorithm_list.cc; each
// has its own typed Options (base/registry.h). Any policy loss applies the weights
// (policy_loss.h); the mask also shrinks the counts losses are normalised by.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "base/registry.h"

namespace ponder::trainer {

struct RolloutCorrectionInput {
  at::Tensor old_log_probs;        // [B, T] the trainer's, at the start of the step
  at::Tensor behaviour_log_probs;  // [B, T] the rollout's
  at::Tensor mask;                 // [B, T] tokens that enter the loss
};

struct RolloutCorrectionOutput {
  at::Tensor weights;                     // [B, T] per-token weights (constants); undefined: all 1
  at::Tensor mask;                        // [B, T] the tokens left in the loss
  std::map<std::string, double> metrics;  // rollout_corr/...
};

class RolloutCorrection {
 public:
  virtual ~RolloutCorrection() = default;
  virtual RolloutCorrectionOutput Apply(const RolloutCorrectionInput& input) const = 0;
};

using RolloutCorrectionRegistry = Registry<RolloutCorrection, config::Block>;
// The built-in corrections (trainer/algorithm_list.cc), registered once; read-only.
const RolloutCorrectionRegistry& RolloutCorrections();

}  // namespace ponder::trainer
