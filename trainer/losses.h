// Loss terms on plain tensors: per-token log-probs of the current policy, the old (behaviour
// or start-of-step) policy and a reference policy, advantages and masks, all [B, T]. Nothing
// here knows the model. The policy losses themselves are plug-ins (policy_loss.h,
// trainer/algorithms/); this file holds what they and the learner share.
//
// Exact gradient accumulation: a mini-batch is processed as micro-batches, and each loss is
// normalised by the *mini-batch's* counts (`LossScale`), so the micro-batch losses add up to
// the mini-batch loss and their gradients to its gradient, whatever the split.
//
// Aggregation of a token loss l [B, T] with mask m (N = mask tokens of the mini-batch,
// S = its samples with at least one mask token, C = LossScale::norm):
//   token-mean               sum_{i,t} m l / N
//   seq-mean-token-sum       sum_i (sum_t m l) / S
//   seq-mean-token-mean      sum_i (sum_t m l / sum_t m) / S
//   seq-mean-token-sum-norm  sum_i (sum_t m l) / (S * C)     (Dr. GRPO: C = max length)
//
// Policy losses: see policy_loss.h and each loss's header in trainer/algorithms/.
// KL per token from delta = logp - ref (estimators of KL(pi || pi_ref), Schulman):
//   k1 = delta, k2 = delta^2 / 2, k3 = exp(-d) + d - 1 with d = clamp(delta, -20, 20), the
//   result clamped to [-10, 10] (as verl's low_var_kl), abs = |delta|.
// Value loss: 0.5 * agg(max((V - R)^2, (clip(V, V_old - eps, V_old + eps) - R)^2)).
// Positive-example NLL (VAPO): -sum over the mask tokens of samples marked positive of logp,
//   divided by the mini-batch's count of such tokens.
#pragma once

#include <ATen/core/Tensor.h>

#include "trainer/algorithm_options.h"

namespace ponder::trainer {

// Counts of the mini-batch that a micro-batch belongs to.
struct LossScale {
  double tokens = 0;           // N: mask tokens
  double sequences = 0;        // S: samples with at least one mask token
  double norm = 1;             // C: the seq-mean-token-sum-norm constant
  double positive_tokens = 0;  // mask tokens of samples marked positive (for the NLL term)

  // Counts of `mask` [B, T] (and `positive` [B], optional) as one mini-batch.
  static LossScale Of(const at::Tensor& mask, double norm, const at::Tensor& positive = {});
};

at::Tensor AggregateLoss(const at::Tensor& loss, const at::Tensor& mask, LossAggMode mode,
                         const LossScale& scale);

// Sum of `x` over the mask divided by the mini-batch's token count: a metric (no gradient)
// normalised like a token-mean loss, so that micro-batch values add up to the mini-batch's.
double MaskedTokenMean(const at::Tensor& x, const at::Tensor& mask, const LossScale& scale);

// Per-token KL estimate [B, T] between the policy (log_probs) and a reference.
at::Tensor KlPenalty(const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
                     KlEstimator estimator);

struct ValueLoss {
  at::Tensor loss;
  double clipfrac = 0;  // normalised like PolicyLoss metrics (token-mean over the mask)
};
ValueLoss ClippedValueLoss(const at::Tensor& values, const at::Tensor& old_values,
                           const at::Tensor& returns, const at::Tensor& mask, double cliprange,
                           LossAggMode mode, const LossScale& scale);

// VAPO's positive-example NLL; `positive` [B] is 1 for samples whose answer was correct.
at::Tensor PositiveNll(const at::Tensor& log_probs, const at::Tensor& mask,
                       const at::Tensor& positive, const LossScale& scale);

}  // namespace ponder::trainer
