#include "trainer/optimizer.h"

#include <torch/optim/adamw.h>

#include <cmath>

#include "spdlog/spdlog.h"

namespace ponder::trainer {
namespace {

std::unique_ptr<torch::optim::AdamW> MakeAdamW(const std::vector<at::Tensor>& params,
                                               const OptimizerOptions& o, double lr) {
  torch::optim::AdamWOptions options(lr);
  options.betas(std::make_tuple(o.betas[0], o.betas[1]));
  options.eps(o.eps);
  options.weight_decay(o.weight_decay);
  return std::make_unique<torch::optim::AdamW>(params, options);
}

}  // namespace

double GradNorm(const std::vector<at::Tensor>& params) {
  double sq = 0;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) {
      const double n = p.grad().norm().item<double>();
      sq += n * n;
    }
  }
  return std::sqrt(sq);
}

OptimizerStep::OptimizerStep(std::vector<at::Tensor> params, const OptimizerOptions& options,
                             double base_lr, std::string who)
    : params_(std::move(params)),
      options_(options),
      base_lr_(base_lr),
      who_(std::move(who)),
      adamw_(MakeAdamW(params_, options_, base_lr_)) {}

OptimizerStep::~OptimizerStep() = default;

torch::optim::Optimizer& OptimizerStep::optimizer() { return *adamw_; }

void OptimizerStep::Reset() { adamw_ = MakeAdamW(params_, options_, base_lr_); }

double OptimizerStep::ScheduleFor(int64_t step) {
  const double lr = ScheduledLearningRate(options_, base_lr_, step);
  for (auto& group : adamw_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  return lr;
}

void OptimizerStep::ClearGrads() {
  for (const at::Tensor& p : params_) {
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
  }
}

double OptimizerStep::Step(bool finite_loss) {
  const double norm = GradNorm(params_);
  if (!finite_loss || !std::isfinite(norm)) {
    ++skipped_;
    spdlog::warn("{}: non-finite {} -- optimizer step skipped ({} skipped so far)", who_,
                 finite_loss ? "gradients" : "loss", skipped_);
    ClearGrads();
    return norm;
  }
  if (options_.grad_clip > 0 && norm > options_.grad_clip) {
    const double coef = options_.grad_clip / (norm + 1e-6);
    for (const at::Tensor& p : params_) {
      if (p.grad().defined()) p.grad().mul_(coef);
    }
  }
  adamw_->step();
  return norm;
}

}  // namespace ponder::trainer
