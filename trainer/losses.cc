#include "trainer/losses.h"

#include <ATen/ATen.h>

namespace ponder::trainer {
namespace {

double Safe(double denominator) { return denominator > 0 ? denominator : 1.0; }

// Sum of `x` over the mask, divided by the mini-batch's token count (a metric, no gradient).
double TokenMean(const at::Tensor& x, const at::Tensor& mask, const LossScale& scale) {
  at::Tensor m = mask.to(at::kDouble);
  return (x.detach().to(at::kDouble) * m).sum().item<double>() / Safe(scale.tokens);
}

}  // namespace

LossScale LossScale::Of(const at::Tensor& mask, double norm, const at::Tensor& positive) {
  at::Tensor m = mask.to(at::kDouble);
  at::Tensor per_seq = m.sum(1);
  LossScale s;
  s.tokens = per_seq.sum().item<double>();
  s.sequences = (per_seq > 0).sum().item<double>();
  s.norm = norm;
  if (positive.defined()) {
    s.positive_tokens = (per_seq * positive.to(at::kDouble)).sum().item<double>();
  }
  return s;
}

at::Tensor AggregateLoss(const at::Tensor& loss, const at::Tensor& mask, LossAggMode mode,
                         const LossScale& scale) {
  at::Tensor m = mask.to(loss.scalar_type());
  at::Tensor masked = loss * m;
  switch (mode) {
    case LossAggMode::kTokenMean:
      return masked.sum() / Safe(scale.tokens);
    case LossAggMode::kSeqMeanTokenSum:
      return masked.sum() / Safe(scale.sequences);
    case LossAggMode::kSeqMeanTokenMean: {
      at::Tensor count = m.sum(1);
      at::Tensor per_seq = masked.sum(1) / count.clamp_min(1.0);
      return per_seq.sum() / Safe(scale.sequences);
    }
    case LossAggMode::kSeqMeanTokenSumNorm:
      return masked.sum() / (Safe(scale.sequences) * scale.norm);
  }
  return masked.sum();
}

PolicyLoss PpoClipLoss(const PolicyLossInput& in, double clip_low, double clip_high, double clip_c,
                       LossAggMode mode, const LossScale& scale) {
  const at::Tensor& adv = in.advantages;
  at::Tensor log_ratio = (in.log_probs - in.old_log_probs).clamp(-20.0, 20.0);
  at::Tensor ratio = at::exp(log_ratio);
  at::Tensor pg1 = -adv * ratio;
  at::Tensor pg2 = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high);
  at::Tensor clipped = at::maximum(pg1, pg2);
  PolicyLoss out;
  out.clipfrac = TokenMean(pg2 > pg1, in.mask, scale);
  at::Tensor loss = clipped;
  if (clip_c > 0) {
    at::Tensor pg3 = -adv * clip_c;
    at::Tensor dual = at::minimum(pg3, clipped);
    at::Tensor negative = adv < 0;
    loss = at::where(negative, dual, clipped);
    out.clipfrac_lower = TokenMean(negative & (clipped > pg3), in.mask, scale);
  }
  out.approx_kl = TokenMean(-log_ratio, in.mask, scale);
  out.loss = AggregateLoss(loss, in.mask, mode, scale);
  return out;
}

PolicyLoss GspoLoss(const PolicyLossInput& in, double clip_low, double clip_high, LossAggMode mode,
                    const LossScale& scale) {
  at::Tensor m = in.mask.to(in.log_probs.scalar_type());
  at::Tensor log_ratio = in.log_probs - in.old_log_probs;
  at::Tensor seq_log_ratio = (log_ratio * m).sum(1) / m.sum(1).clamp_min(1.0);
  at::Tensor token_log_ratio =
      seq_log_ratio.detach().unsqueeze(1) + in.log_probs - in.log_probs.detach();
  at::Tensor ratio = at::exp(token_log_ratio.clamp_max(10.0));
  const at::Tensor& adv = in.advantages;
  at::Tensor pg1 = -adv * ratio;
  at::Tensor pg2 = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high);
  PolicyLoss out;
  out.loss = AggregateLoss(at::maximum(pg1, pg2), in.mask, mode, scale);
  out.clipfrac = TokenMean(pg2 > pg1, in.mask, scale);
  out.approx_kl = TokenMean(-log_ratio, in.mask, scale);
  return out;
}

PolicyLoss KimiLoss(const PolicyLossInput& in, double tau, const LossScale& scale) {
  at::Tensor m = in.mask.to(in.log_probs.scalar_type());
  at::Tensor count = m.sum(1);
  at::Tensor has_tokens = (count > 0).to(m.scalar_type());
  at::Tensor seq_logp = (in.log_probs * m).sum(1);
  at::Tensor seq_old = (in.old_log_probs * m).sum(1);
  at::Tensor seq_adv = (in.advantages * m).sum(1) / count.clamp_min(1.0);
  at::Tensor diff = seq_logp - seq_old;
  at::Tensor per_seq = (-seq_adv * seq_logp + 0.5 * tau * diff * diff) * has_tokens;
  PolicyLoss out;
  out.loss = per_seq.sum() / Safe(scale.sequences);
  out.approx_kl = TokenMean(in.old_log_probs - in.log_probs, in.mask, scale);
  return out;
}

PolicyLoss ComputePolicyLoss(const PolicyLossInput& in, const AlgorithmOptions& options,
                             const LossScale& scale) {
  switch (options.policy_loss) {
    case PolicyLossKind::kGspo:
      return GspoLoss(in, options.clip_ratio_low, options.clip_ratio_high, options.loss_agg_mode,
                      scale);
    case PolicyLossKind::kKimi:
      return KimiLoss(in, options.kimi_tau, scale);
    case PolicyLossKind::kPpo:
      break;
  }
  return PpoClipLoss(in, options.clip_ratio_low, options.clip_ratio_high, options.clip_ratio_c,
                     options.loss_agg_mode, scale);
}

at::Tensor KlPenalty(const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
                     KlEstimator estimator) {
  at::Tensor delta = log_probs - ref_log_probs;
  switch (estimator) {
    case KlEstimator::kK1:
      return delta;
    case KlEstimator::kK2:
      return 0.5 * delta * delta;
    case KlEstimator::kAbs:
      return delta.abs();
    case KlEstimator::kK3: {
      at::Tensor d = delta.clamp(-20.0, 20.0);
      return (at::exp(-d) + d - 1.0).clamp(-10.0, 10.0);
    }
  }
  return delta;
}

ValueLoss ClippedValueLoss(const at::Tensor& values, const at::Tensor& old_values,
                           const at::Tensor& returns, const at::Tensor& mask, double cliprange,
                           LossAggMode mode, const LossScale& scale) {
  at::Tensor clipped = old_values + (values - old_values).clamp(-cliprange, cliprange);
  at::Tensor vf1 = (values - returns).pow(2);
  at::Tensor vf2 = (clipped - returns).pow(2);
  ValueLoss out;
  out.loss = 0.5 * AggregateLoss(at::maximum(vf1, vf2), mask, mode, scale);
  out.clipfrac = TokenMean(vf2 > vf1, mask, scale);
  return out;
}

at::Tensor PositiveNll(const at::Tensor& log_probs, const at::Tensor& mask,
                       const at::Tensor& positive, const LossScale& scale) {
  at::Tensor m =
      mask.to(log_probs.scalar_type()) * positive.to(log_probs.scalar_type()).unsqueeze(1);
  return -(log_probs * m).sum() / Safe(scale.positive_tokens);
}

}  // namespace ponder::trainer
