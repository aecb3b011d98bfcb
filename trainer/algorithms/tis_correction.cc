#include "trainer/algorithms/tis_correction.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

void TisCorrection::Options::Bind(config::Binder& b) { b.Field("cap", cap).AtLeast(1.0); }

absl::StatusOr<std::unique_ptr<TisCorrection>> TisCorrection::Create(const Options& options) {
  if (!(options.cap >= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tis: cap must be >= 1 (got ", options.cap, ")"));
  }
  return std::make_unique<TisCorrection>(options.cap);
}

RolloutCorrectionOutput TisCorrection::Apply(const RolloutCorrectionInput& input) const {
  at::Tensor ratio = at::exp((input.old_log_probs - input.behaviour_log_probs).clamp(-20.0, 20.0));
  RolloutCorrectionOutput out;
  out.weights = ratio.clamp_max(cap_);
  out.mask = input.mask;
  const double tokens = input.mask.sum().item<double>();
  auto mean = [&](const at::Tensor& x) {
    return tokens > 0 ? (x.to(input.mask.scalar_type()) * input.mask).sum().item<double>() / tokens
                      : 0.0;
  };
  out.metrics["rollout_corr/tis_weight/mean"] = mean(out.weights);
  out.metrics["rollout_corr/tis_capped_frac"] = mean(ratio > cap_);
  return out;
}

}  // namespace ponder::trainer
