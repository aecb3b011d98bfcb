// Learner: creation, validation, the order of Step's phases, and the learner's state. The
// phases are in learner_terms.cc (1-4) and learner_update.cc (5); what they share is in
// internal/learner_impl.h.
#include "trainer/learner.h"

#include <ATen/ATen.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/internal/learner_impl.h"
#include "trainer/internal/random.h"

namespace ponder::trainer {

using internal::Clock;
using internal::Since;

absl::Status Learner::Impl::Validate(const std::vector<Trajectory>& batch) const {
  if (batch.empty()) return absl::InvalidArgumentError("learner step on an empty batch");
  for (size_t i = 0; i < batch.size(); ++i) {
    const Trajectory& t = batch[i];
    auto bad = [i](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("trajectory ", i, ": ", what));
    };
    if (t.prompt_ids.empty()) return bad("empty prompt");
    if (t.response_ids.empty()) return bad("empty response");
    if (!std::isfinite(t.score)) return bad(absl::StrCat("score is not finite (", t.score, ")"));
    if (!t.behaviour_log_probs.empty() && t.behaviour_log_probs.size() != t.response_ids.size()) {
      return bad(absl::StrCat(t.behaviour_log_probs.size(), " behaviour log-probs for ",
                              t.response_ids.size(), " response tokens"));
    }
    if (!opts.recompute_logprobs && t.behaviour_log_probs.empty()) {
      return bad("no behaviour log-probs, and trainer.recompute_logprobs is false");
    }
    for (float lp : t.behaviour_log_probs) {
      if (!std::isfinite(lp) || lp > 0) {
        return bad(absl::StrCat("behaviour log-prob ", lp, " is not a log-probability"));
      }
    }
  }
  return absl::OkStatus();
}

// ---- Learner ------------------------------------------------------------------------------

Learner::Learner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Learner::~Learner() = default;

torch::optim::Optimizer& Learner::policy_optimizer() { return impl_->policy_opt->optimizer(); }
torch::optim::Optimizer* Learner::critic_optimizer() {
  return impl_->critic_opt ? &impl_->critic_opt->optimizer() : nullptr;
}

namespace {

// What the learner needs besides the options, checked before anything is built.
absl::Status CheckModels(const AlgorithmOptions& algorithm, const LearnerOptions& options,
                         TrainablePolicy* policy, TrainablePolicy* reference, ValueModel* critic) {
  if (policy == nullptr) return absl::InvalidArgumentError("the learner needs a policy");
  if (algorithm.NeedsReference() && reference == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "algorithm '", algorithm.name,
        "' has a KL term to a reference policy (use_kl_loss / use_kl_in_reward with a non-zero "
        "coefficient) but no reference policy was given; load one, or set "
        "algorithm.use_kl_loss: false and algorithm.use_kl_in_reward: false"));
  }
  if (algorithm.NeedsCritic() && critic == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("adv_estimator ", algorithm.adv_estimator,
                     " needs a critic (a value model); none was given"));
  }
  if (algorithm.loss_agg_mode == LossAggMode::kSeqMeanTokenSumNorm &&
      algorithm.loss_scale_factor <= 0 && options.max_response_length <= 0) {
    return absl::InvalidArgumentError(
        "loss_agg_mode seq-mean-token-sum-norm divides by a constant: set "
        "algorithm.loss_scale_factor or give the rollout's max response length");
  }
  return absl::OkStatus();
}

std::vector<at::Tensor> Trainable(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : params) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

}  // namespace

// The learner's parts; LibTorch may throw while building them (e.g. a parameter the optimizer
// cannot take).
absl::StatusOr<std::unique_ptr<Learner>> Learner::Create(
    const AlgorithmOptions& algorithm, const TrainerOptions& trainer, const LearnerOptions& options,
    TrainablePolicy* policy, TrainablePolicy* reference, ValueModel* critic) {
  try {
    return CreateUnguarded(algorithm, trainer, options, policy, reference, critic);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("creating the learner failed in LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("creating the learner failed: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Learner>> Learner::CreateUnguarded(
    const AlgorithmOptions& algorithm, const TrainerOptions& trainer, const LearnerOptions& options,
    TrainablePolicy* policy, TrainablePolicy* reference, ValueModel* critic) {
  if (absl::Status s = algorithm.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", s.message()));
  }
  PONDER_RETURN_IF_ERROR(CheckModels(algorithm, options, policy, reference, critic));
  auto impl = std::make_unique<Impl>();
  impl->algo = algorithm;
  impl->opts = trainer;
  impl->lopts = options;
  impl->policy = policy;
  impl->reference = reference;
  impl->critic = algorithm.NeedsCritic() ? critic : nullptr;
  impl->rng.seed(options.seed);
  PONDER_ASSIGN_OR_RETURN(impl->loss, PolicyLosses().Create(algorithm.policy_loss, algorithm));
  PONDER_ASSIGN_OR_RETURN(impl->estimator,
                          AdvantageEstimators().Create(algorithm.adv_estimator, algorithm));
  if (!algorithm.rollout_correction.name.empty()) {
    PONDER_ASSIGN_OR_RETURN(impl->correction,
                            RolloutCorrections().Create(algorithm.rollout_correction.name,
                                                        algorithm.rollout_correction.options));
    if (!trainer.recompute_logprobs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm.rollout_correction ", algorithm.rollout_correction.name,
          " compares the trainer's log-probs with the rollout's: it needs "
          "trainer.recompute_logprobs true (without it pi_old is the rollout's, every ratio 1)"));
    }
  }
  std::vector<at::Tensor> params = Trainable(policy->Parameters());
  if (params.empty()) return absl::InvalidArgumentError("the policy has no trainable parameters");
  impl->dtype = params[0].scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  impl->device = params[0].device();
  impl->dp = options.data_parallel;
  if (impl->dp != nullptr) impl->policy_reducer = impl->dp->MakeReducer(params, "policy");
  impl->policy_opt =
      std::make_unique<OptimizerStep>(std::move(params), trainer, trainer.lr, "policy");
  if (impl->critic != nullptr) {
    std::vector<at::Tensor> critic_params = Trainable(impl->critic->Parameters());
    if (critic_params.empty()) {
      return absl::InvalidArgumentError("the critic has no trainable parameters");
    }
    if (impl->dp != nullptr) impl->critic_reducer = impl->dp->MakeReducer(critic_params, "critic");
    impl->critic_opt = std::make_unique<OptimizerStep>(std::move(critic_params), trainer,
                                                       trainer.critic_lr, "critic");
  }
  return std::unique_ptr<Learner>(new Learner(std::move(impl)));
}

absl::StatusOr<LearnerStep> Learner::Impl::RunStep(const std::vector<Trajectory>& batch,
                                                   int64_t step,
                                                   const std::vector<int64_t>& detail_rows) {
  const auto start = Clock::now();
  StepData d;
  d.batch = &batch;
  d.detail_rows = detail_rows;
  d.b = Pack(batch, dtype, device);
  LearnerStep out;
  PONDER_RETURN_IF_ERROR(ReferenceTerms(d, out));
  PONDER_RETURN_IF_ERROR(ShapeScores(d, step, out));
  PONDER_RETURN_IF_ERROR(EstimateAdvantages(d, out));
  PONDER_RETURN_IF_ERROR(LossInputs(d, out));
  UpdateCounters counters;
  PONDER_RETURN_IF_ERROR(Update(d, step, out, counters));
  out.token_details = TokenDetails(d);
  if (dp != nullptr) {
    std::vector<double> tokens = {static_cast<double>(counters.train_tokens)};
    PONDER_RETURN_IF_ERROR(dp->Sum(tokens, "trained tokens"));
    counters.train_tokens = static_cast<int64_t>(tokens[0]);
  }
  const double seconds = Since(start);
  out.metrics["timing/update_s"] = seconds;
  out.metrics["timing/update_forward_s"] = counters.forward_s;
  out.metrics["timing/update_backward_s"] = counters.backward_s;
  out.metrics["timing/update_optimizer_s"] = counters.optimizer_s;
  out.metrics["perf/train_tokens_per_s"] = seconds > 0 ? counters.train_tokens / seconds : 0.0;
  return out;
}

absl::StatusOr<LearnerStep> Learner::Step(const std::vector<Trajectory>& batch, int64_t step,
                                          const std::vector<int64_t>& detail_rows) {
  PONDER_RETURN_IF_ERROR(impl_->Validate(batch));
  for (int64_t row : detail_rows) {
    if (row < 0 || row >= static_cast<int64_t>(batch.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("token detail row ", row, " is not in the batch of ", batch.size()));
    }
  }
  try {
    return impl_->RunStep(batch, step, detail_rows);
  } catch (const c10::Error& e) {  // a shape or device mismatch, out of memory ...
    return absl::InternalError(absl::StrCat("learner step ", step + 1,
                                            " failed in LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("learner step ", step + 1, " failed: ", e.what()));
  }
}

std::string Learner::SaveState() const {
  return nlohmann::json{
      {"rng", internal::EngineState(impl_->rng)},
      {"skipped_policy_steps", impl_->policy_opt->skipped()},
      {"skipped_critic_steps", impl_->critic_opt ? impl_->critic_opt->skipped() : int64_t{0}}}
      .dump();
}

absl::Status Learner::LoadState(const std::string& state) {
  try {
    nlohmann::json j = nlohmann::json::parse(state);
    std::mt19937_64 rng;
    if (!internal::SetEngineState(j.at("rng").get<std::string>(), rng)) {
      return absl::InvalidArgumentError("learner state: 'rng' is not an engine state");
    }
    const int64_t skipped_policy = j.at("skipped_policy_steps").get<int64_t>();
    const int64_t skipped_critic = j.at("skipped_critic_steps").get<int64_t>();
    impl_->rng = rng;
    impl_->policy_opt->set_skipped(skipped_policy);
    if (impl_->critic_opt) impl_->critic_opt->set_skipped(skipped_critic);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("learner state is not valid: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
