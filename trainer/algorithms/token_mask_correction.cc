#include "trainer/algorithms/token_mask_correction.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

void TokenMaskCorrection::Options::Bind(config::Binder& b) { b.Field("cap", cap).GreaterThan(1.0); }

absl::StatusOr<std::unique_ptr<TokenMaskCorrection>> TokenMaskCorrection::Create(
    const Options& options) {
  if (!(options.cap > 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("token_mask: cap must be > 1 (got ", options.cap, ")"));
  }
  return std::make_unique<TokenMaskCorrection>(options.cap);
}

RolloutCorrectionOutput TokenMaskCorrection::Apply(const RolloutCorrectionInput& input) const {
  at::Tensor ratio = at::exp((input.old_log_probs - input.behaviour_log_probs).clamp(-20.0, 20.0));
  at::Tensor keep = (ratio >= 1.0 / cap_) & (ratio <= cap_);
  RolloutCorrectionOutput out;
  out.mask = input.mask * keep.to(input.mask.scalar_type());
  const double tokens = input.mask.sum().item<double>();
  out.metrics["rollout_corr/masked_frac"] =
      tokens > 0 ? 1.0 - out.mask.sum().item<double>() / tokens : 0.0;
  return out;
}

}  // namespace ponder::trainer
