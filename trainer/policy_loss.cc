#include "trainer/policy_loss.h"

#include <ATen/ATen.h>

namespace ponder::trainer {

at::Tensor AggregatePolicyLoss(const at::Tensor& token_loss, const PolicyLossInput& in,
                               LossAggMode mode, const LossScale& scale) {
  if (!in.weights.defined()) return AggregateLoss(token_loss, in.mask, mode, scale);
  return AggregateLoss(token_loss * in.weights.to(token_loss.scalar_type()), in.mask, mode, scale);
}

}  // namespace ponder::trainer
