// One optimizer step for a set of parameters, the same for the RL policy, the critic and SFT:
// AdamW, the learning rate of the schedule at the current step, global-norm gradient clipping,
// and a step skipped (and counted) when the loss or a gradient is not finite.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainer/trainer_options.h"

namespace torch::optim {
class AdamW;
class Optimizer;
}  // namespace torch::optim

namespace ponder::trainer {

class OptimizerStep {
 public:
  // `params`: the trainable parameters (non-empty); `base_lr`: the learning rate the schedule
  // of `options` scales (options.lr, or trainer.critic_lr for the critic); `who` names them
  // in warnings.
  OptimizerStep(std::vector<at::Tensor> params, const OptimizerOptions& options, double base_lr,
                std::string who);
  ~OptimizerStep();

  // Sets the learning rate of (0-based) step `step` and returns it.
  double ScheduleFor(int64_t step);
  // A fresh AdamW state (Kimi's reset_optimizer_per_step).
  void Reset();
  // Drops the gradients (the next backward writes them afresh).
  void ClearGrads();
  // Clips and steps, or skips the step when `finite_loss` is false or a gradient is not
  // finite (then the gradients are dropped and the skip counted). Returns the gradient norm
  // before clipping.
  double Step(bool finite_loss);

  int64_t skipped() const { return skipped_; }
  void set_skipped(int64_t skipped) { skipped_ = skipped; }
  torch::optim::Optimizer& optimizer();

 private:
  std::vector<at::Tensor> params_;
  OptimizerOptions options_;
  double base_lr_;
  std::string who_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  int64_t skipped_ = 0;
};

// Global L2 norm of the gradients of `params`; non-finite when any gradient is.
double GradNorm(const std::vector<at::Tensor>& params);

}  // namespace ponder::trainer
