// Where each RL step's scored groups come from, and where the weights of its update go: the
// part of the controller loop that differs between trainer.mode sync and async.
//
//   sync  (sync_batches.cc): the step's prompts are generated in rounds on the rollout while
//         the trainer waits (dynamic sampling: more rounds until the filter has enough groups),
//         then the new weights are pushed to the rollout (WeightSync::Push);
//   async (async_batches.cc): the batches are issued ahead and taken from the pipeline of
//         async_rollout.h, the new weights are published to it, a checkpoint keeps the batches
//         in flight, and evaluation runs on an engine of its own on the live policy.
//
//   std::unique_ptr<StepBatches> batches =
//       async ? MakeAsyncBatches(parts) : MakeSyncBatches(parts);   // after the state is restored
//   filter.BeginBatch(...);  batches->Collect(&groups, &metrics);  filter.FinishBatch();
//   ... learner step ...
//   batches->Publish(&metrics);
//   state.in_flight = batches->Drain();  // before a checkpoint
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "model/tokenizer.h"
#include "monitor/metrics.h"
#include "reward/reward_backend.h"
#include "trainer/async_rollout.h"
#include "trainer/group_filter.h"
#include "trainer/prompt_sampler.h"
#include "trainer/rollout_backend.h"
#include "trainer/rollout_round.h"
#include "trainer/run_state.h"

namespace ponder::trainer {

// What both kinds use; the pointers must outlive the StepBatches.
struct StepBatchesParts {
  RoundContext context;  // context.job is the run's config
  RolloutConnection* rollout = nullptr;
  reward::RewardBackend* reward = nullptr;
  PromptSampler* sampler = nullptr;
  GroupFilter* filter = nullptr;
  RunState* state = nullptr;  // state->step: the completed steps
  model::Decoder policy{nullptr};
  std::shared_ptr<const model::Tokenizer> tokenizer;
};

class StepBatches {
 public:
  virtual ~StepBatches() = default;
  // The scored groups of (0-based) step state->step, each offered to the filter (Group::kept),
  // between the filter's BeginBatch and FinishBatch. The rollout's and reward's counters go
  // into `metrics`.
  virtual absl::Status Collect(std::vector<Group>* groups, monitor::Metrics* metrics) = 0;
  // The policy's weights after the update of step state->step (version state->step + 1) to
  // the rollout, timed in `metrics`.
  virtual absl::Status Publish(monitor::Metrics* metrics) = 0;
  // Before a checkpoint: waits for the batches issued for later steps, and returns them scored
  // (RunState::in_flight; none in sync mode).
  virtual absl::StatusOr<std::vector<BatchResult>> Drain() = 0;
  // A rollout that generates with the policy's current weights, for evaluation.
  virtual absl::StatusOr<rollout::RolloutBackend*> EvalRollout() = 0;
};

std::unique_ptr<StepBatches> MakeSyncBatches(const StepBatchesParts& parts);
// Starts the pipeline, with the batches of state->in_flight (a checkpoint's) taken as made.
std::unique_ptr<StepBatches> MakeAsyncBatches(const StepBatchesParts& parts);

// Offers each group of `finished` to the filter (setting Group::kept) and appends it to
// `groups`.
void OfferGroups(GroupFilter& filter, std::vector<Group> finished, std::vector<Group>* groups);
// Tells the prompt sampler how each group's prompt went (its samples, and how many correct).
void ObserveGroups(const std::vector<Group>& groups, PromptSampler& sampler);

}  // namespace ponder::trainer
