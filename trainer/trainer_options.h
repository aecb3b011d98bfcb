// `trainer:` — optimisation of the policy (and critic): AdamW, learning-rate schedule,
// gradient clipping, epochs, mini-batches and the micro-batch token budget.
//
//   trainer:
//     steps: 200                  # RL steps (rollout batches); the cosine schedule spans them
//     lr: 1.0e-6                  # policy AdamW learning rate
//     critic_lr: 1.0e-5           # critic AdamW learning rate (PPO with GAE)
//     betas: [0.9, 0.999]
//     eps: 1.0e-8
//     weight_decay: 0.01
//     lr_scheduler_type: constant # or cosine (down to min_lr_ratio * lr at the last step)
//     lr_warmup_steps: 0          # linear warm-up: step s < W uses lr * (s + 1) / W
//     min_lr_ratio: 0.0
//     grad_clip: 1.0              # global L2 norm; 0: no clipping
//     ppo_epochs: 1               # passes over each rollout batch
//     ppo_mini_batch_size: 0      # prompts (whole groups) per optimizer step; 0: the batch
//     max_tokens_per_micro_batch: 16384   # padded tokens per forward/backward
//     shuffle: true               # reshuffle mini-batches each epoch
//     recompute_logprobs: true    # old log-probs from the trainer (else the rollout's)
//     critic_warmup: 0            # first steps train only the critic
//     mode: sync                  # or async: rollout generates while the trainer trains
//     max_staleness: 1            # async: a sample whose oldest token is more than this
//                                 #   many weight versions behind the trainer is dropped
//     rollout_ahead: 1            # async: steps the rollout runs ahead of training (its
//                                 #   samples are then this many versions old; <= max_staleness)
//
// Names follow verl (`actor.optim.lr`, `ppo_epochs`, `ppo_mini_batch_size`, `grad_clip`,
// `lr_warmup_steps`, `min_lr_ratio`, `critic_warmup`). The optimizer keys (steps, lr, betas,
// eps, weight_decay, lr_scheduler_type, lr_warmup_steps, min_lr_ratio, grad_clip) are
// OptimizerOptions, which `sft:` takes as well (trainer/sft.h), with the same names and
// meaning; one OptimizerStep (trainer/optimizer.h) applies them to both.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "base/config.h"

namespace ponder::trainer {

enum class LrSchedulerType { kConstant, kCosine };
enum class TrainerMode { kSync, kAsync };

// AdamW, its learning-rate schedule and gradient clipping: the keys `trainer:` and `sft:`
// share. The defaults are the RL ones; SftOptions sets its own.
struct OptimizerOptions {
  int64_t steps = 100;  // optimizer steps the run takes; the cosine schedule spans them
  double lr = 1e-6;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;
  LrSchedulerType lr_scheduler_type = LrSchedulerType::kConstant;
  int64_t lr_warmup_steps = 0;
  double min_lr_ratio = 0.0;
  double grad_clip = 1.0;

  // Binds the keys above, in this order, into the section being bound (not a sub-section).
  void BindOptimizerKeys(config::Binder& b);
  // The rules across those keys (betas in [0, 1)).
  absl::Status ValidateOptimizerKeys() const;
};

struct TrainerOptions : OptimizerOptions {
  double critic_lr = 1e-5;
  int64_t ppo_epochs = 1;
  int64_t ppo_mini_batch_size = 0;
  int64_t max_tokens_per_micro_batch = 16384;
  bool shuffle = true;
  bool recompute_logprobs = true;
  int64_t critic_warmup = 0;
  TrainerMode mode = TrainerMode::kSync;
  int64_t max_staleness = 1;
  int64_t rollout_ahead = 1;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// The learning rate at (0-based) step `step` for base rate `base_lr`: linear warm-up over
// `lr_warmup_steps`, then constant, or a half cosine from base_lr at the end of warm-up down
// to min_lr_ratio * base_lr at step `steps` - 1.
double ScheduledLearningRate(const OptimizerOptions& options, double base_lr, int64_t step);

}  // namespace ponder::trainer
