#include "trainer/trainer_options.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

void OptimizerOptions::BindOptimizerKeys(config::Binder& b) {
  b.Field("steps", steps).AtLeast(1);
  b.Field("lr", lr).GreaterThan(0.0);
  b.Field("betas", betas).Must(betas.size() == 2, "hold two numbers [beta1, beta2]");
  b.Field("eps", eps).GreaterThan(0.0);
  b.Field("weight_decay", weight_decay).AtLeast(0.0);
  b.Enum("lr_scheduler_type", lr_scheduler_type,
         {{"constant", LrSchedulerType::kConstant}, {"cosine", LrSchedulerType::kCosine}});
  b.Field("lr_warmup_steps", lr_warmup_steps).AtLeast(0);
  b.Field("min_lr_ratio", min_lr_ratio).InRange(0.0, 1.0);
  b.Field("grad_clip", grad_clip).AtLeast(0.0);
}

absl::Status OptimizerOptions::ValidateOptimizerKeys() const {
  for (double beta : betas) {
    if (!(beta >= 0.0 && beta < 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat("betas must be in [0, 1) (got ", beta, ")"));
    }
  }
  return absl::OkStatus();
}

void TrainerOptions::Bind(config::Binder& b) {
  BindOptimizerKeys(b);
  b.Field("critic_lr", critic_lr).GreaterThan(0.0);
  b.Field("ppo_epochs", ppo_epochs).AtLeast(1);
  b.Field("ppo_mini_batch_size", ppo_mini_batch_size).AtLeast(0);
  b.Field("max_tokens_per_micro_batch", max_tokens_per_micro_batch).AtLeast(1);
  b.Field("shuffle", shuffle);
  b.Field("recompute_logprobs", recompute_logprobs);
  b.Field("critic_warmup", critic_warmup).AtLeast(0);
  b.Enum("mode", mode, {{"sync", TrainerMode::kSync}, {"async", TrainerMode::kAsync}});
  b.Field("max_staleness", max_staleness).AtLeast(1);
  b.Field("rollout_ahead", rollout_ahead).AtLeast(1);
}

absl::Status TrainerOptions::Validate() const {
  if (rollout_ahead > max_staleness) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rollout_ahead (", rollout_ahead, ") must be <= max_staleness (", max_staleness,
        "): samples made that far ahead would all be too old to train on"));
  }
  return ValidateOptimizerKeys();
}

double ScheduledLearningRate(const OptimizerOptions& options, double base_lr, int64_t step) {
  const int64_t warmup = options.lr_warmup_steps;
  if (step < warmup) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (options.lr_scheduler_type == LrSchedulerType::kConstant) return base_lr;
  const double min_lr = options.min_lr_ratio * base_lr;
  const int64_t span = options.steps - 1 - warmup;
  if (span <= 0) return base_lr;
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
  return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace ponder::trainer
