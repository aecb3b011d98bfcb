#include "trainer/losses.h"

#include <ATen/ATen.h>

namespace ponder::trainer {
namespace {

double Safe(double denominator) { return denominator > 0 ? denominator : 1.0; }

}  // namespace

double MaskedTokenMean(const at::Tensor& x, const at::Tensor& mask, const LossScale& scale) {
  at::Tensor m = mask.to(at::kDouble);
  return (x.detach().to(at::kDouble) * m).sum().item<double>() / Safe(scale.tokens);
}

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
  out.clipfrac = MaskedTokenMean(vf2 > vf1, mask, scale);
  return out;
}

at::Tensor PositiveNll(const at::Tensor& log_probs, const at::Tensor& mask,
                       const at::Tensor& positive, const LossScale& scale) {
  at::Tensor m =
      mask.to(log_probs.scalar_type()) * positive.to(log_probs.scalar_type()).unsqueeze(1);
  return -(log_probs * m).sum() / Safe(scale.positive_tokens);
}

}  // namespace ponder::trainer
