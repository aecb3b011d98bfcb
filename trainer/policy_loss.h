// The policy loss: an interface with one implementation per variant (trainer/algorithms/),
// registered by name in trainer/algorithm_list.cc and chosen by `algorithm.policy_loss`.
//
// A loss sees one micro-batch at a time and normalises by the counts of the mini-batch it
// belongs to (LossScale, losses.h), so that the micro-batch losses, their gradients and their
// metrics add up to the mini-batch's. Its options are the `algorithm:` section's
// (clip_ratio_low, clip_ratio_high, loss_agg_mode ...); its Create checks what it needs.
//
// Per-token weights (a rollout correction's importance weights, rollout_correction.h) scale
// each token's policy-gradient term; every loss applies them.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>

#include "base/registry.h"
#include "trainer/algorithm_options.h"
#include "trainer/losses.h"

namespace ponder::trainer {

struct PolicyLossInput {
  at::Tensor log_probs;      // [B, T] current policy (differentiable)
  at::Tensor old_log_probs;  // [B, T] start-of-step policy (or the rollout's)
  at::Tensor advantages;     // [B, T]
  at::Tensor mask;           // [B, T] tokens that enter the loss
  at::Tensor weights;        // [B, T] per-token weights (constants); undefined: all 1
};

// A loss and its metrics. Metrics are partial sums normalised like the loss (by mini-batch
// counts), so adding them over the micro-batches gives the mini-batch's value.
struct PolicyLossValue {
  at::Tensor loss;                       // scalar
  double clipfrac = 0;                   // share of tokens where a clip bound was active
  std::optional<double> clipfrac_lower;  // share where the dual clip was (when it is on)
  double approx_kl = 0;                  // mean of old - logp over the tokens (verl's ppo_kl)
};

class PolicyLoss {
 public:
  virtual ~PolicyLoss() = default;
  virtual PolicyLossValue Compute(const PolicyLossInput& in, const LossScale& scale) const = 0;
};

using PolicyLossRegistry = Registry<PolicyLoss, AlgorithmOptions>;
// The built-in losses (trainer/algorithm_list.cc), registered once; read-only.
const PolicyLossRegistry& PolicyLosses();

// AggregateLoss of a per-token loss [B, T] times in.weights (when given) over in.mask.
at::Tensor AggregatePolicyLoss(const at::Tensor& token_loss, const PolicyLossInput& in,
                               LossAggMode mode, const LossScale& scale);

}  // namespace ponder::trainer
