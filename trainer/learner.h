// One RL update step: a batch of scored trajectories in, updated policy (and critic) weights
// and metrics out.
//
//   PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Learner> learner,
//       Learner::Create(job.algorithm, job.trainer, {.max_response_length = 512},
//                       &policy, reference_or_null, critic_or_null));
//   for (int64_t step = 0; step < job.trainer.steps; ++step) {
//     std::vector<Trajectory> batch = ...;   // rollout + reward: n samples per prompt
//     PONDER_ASSIGN_OR_RETURN(LearnerStep out, learner->Step(batch, step));
//     sink.Write(step, out.metrics);
//   }
//
// Step runs these phases in order, one function each (learner_terms.cc: 1-4; learner_update.cc:
// 5; what they share: internal/learner_impl.h):
//   1. reference terms: old log-probs under the current policy (or the rollout's behaviour
//      log-probs when trainer.recompute_logprobs is false), reference log-probs when a KL term
//      needs them, critic values for GAE (no grad, micro-batched);
//   2. score shaping: the `group_shaping` hook (Kimi length penalty, DAPO overlong);
//   3. advantages and their statistics: KL in the reward when configured
//      (r_t -= kl_coef * KL_t(old || ref)), then the advantage estimator
//      (advantage_estimator.h);
//   4. loss inputs: the loss mask (mask_truncated), the rollout correction's weights and mask
//      (rollout_correction.h), the samples marked positive;
//   5. policy and critic updates: trainer.ppo_epochs passes over mini-batches of
//      trainer.ppo_mini_batch_size prompts; each mini-batch accumulates exact gradients over
//      micro-batches packed under trainer.max_tokens_per_micro_batch, then one optimizer step
//      (optimizer.h: global-norm clipping; a non-finite loss or gradient skips the step and
//      counts it) for the policy, and one for the critic (its own optimizer and learning
//      rate). The policy's loss terms -- the policy loss (policy_loss.h), KL to the
//      reference, the entropy bonus, the positive-example NLL -- are composed in one place.
// Metrics use verl-style names: actor/pg_loss, actor/entropy, actor/clipfrac, actor/ppo_kl,
// actor/grad_norm, actor/lr, critic/vf_loss, adv/mean, kl_ref/mean, rollout_corr/* ...
// The entry points return a Status and do not throw: a LibTorch error (or any other exception)
// while creating the learner or in a step comes back as an Internal status naming what failed
// (the step, or the creation).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/algorithm_options.h"
#include "trainer/group_shaping.h"
#include "trainer/policy.h"
#include "trainer/token_details.h"
#include "trainer/trainer_options.h"
#include "trainer/trajectory.h"

namespace torch::optim {
class Optimizer;
}

namespace ponder::trainer {

// (GroupShaping, the group reward shaping hook, is in group_shaping.h: the controller binds
// it to the `reward:` section with RewardGroupShaping.)

class DataParallel;

struct LearnerOptions {
  int64_t max_response_length = 0;  // the rollout's limit (seq-mean-token-sum-norm's constant)
  uint64_t seed = 1;                // mini-batch shuffling
  GroupShaping group_shaping;       // optional
  // Trainer ranks (trainer/data_parallel.h): every rank calls Step with the same batch and
  // computes its share of the rows; null: one rank. Must outlive the learner.
  DataParallel* data_parallel = nullptr;
};

struct LearnerStep {
  std::map<std::string, double> metrics;
  std::vector<double> scores;      // per trajectory, after group shaping
  std::vector<double> advantages;  // per trajectory, mean over its response tokens
  // Per-token values of the rows asked for (token_details.h), in the order asked.
  std::vector<RowTokenDetail> token_details;
};

class Learner {
 public:
  // `policy` is required; `reference` when the algorithm has a KL term with a non-zero
  // coefficient; `critic` for adv_estimator gae. They must outlive the learner.
  static absl::StatusOr<std::unique_ptr<Learner>> Create(const AlgorithmOptions& algorithm,
                                                         const TrainerOptions& trainer,
                                                         const LearnerOptions& options,
                                                         TrainablePolicy* policy,
                                                         TrainablePolicy* reference,
                                                         ValueModel* critic);
  ~Learner();

  // One RL step on `batch` at (0-based) training step `step` (drives the learning-rate
  // schedule, critic warm-up and shaping warm-up). Bad trajectories are InvalidArgument
  // naming the trajectory; model errors are passed on. `detail_rows` (batch indices) get their
  // per-token values in LearnerStep::token_details, from the passes the step makes anyway.
  absl::StatusOr<LearnerStep> Step(const std::vector<Trajectory>& batch, int64_t step,
                                   const std::vector<int64_t>& detail_rows = {});

  // The optimizers, for checkpoints (torch::save / torch::load of their state).
  torch::optim::Optimizer& policy_optimizer();
  torch::optim::Optimizer* critic_optimizer();  // null without a critic

  // The learner's own state (mini-batch RNG, counters) as JSON text, and back.
  std::string SaveState() const;
  absl::Status LoadState(const std::string& state);

 private:
  struct Impl;
  static absl::StatusOr<std::unique_ptr<Learner>> CreateUnguarded(const AlgorithmOptions& algorithm,
                                                                  const TrainerOptions& trainer,
                                                                  const LearnerOptions& options,
                                                                  TrainablePolicy* policy,
                                                                  TrainablePolicy* reference,
                                                                  ValueModel* critic);
  explicit Learner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder::trainer
