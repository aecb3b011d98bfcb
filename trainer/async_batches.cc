// trainer.mode async (step_batches.h): the schedule of async_rollout.h seen from the loop. The
// batch of step s is issued rollout_ahead steps early with the newest weights there are,
// taken when step s comes (samples older than max_staleness dropped), and the weights of each
// update are published to the pipeline.
#include <algorithm>
#include <chrono>
#include <optional>

#include "base/status.h"
#include "trainer/step_batches.h"
#include "trainer/step_metrics.h"

namespace ponder::trainer {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

class AsyncBatches : public StepBatches {
 public:
  explicit AsyncBatches(const StepBatchesParts& parts) : parts_(parts) {
    RunState& state = *parts_.state;
    AsyncRollout::Parts pipeline;
    pipeline.rollout = parts_.rollout->backend.get();
    pipeline.reward = parts_.reward;
    pipeline.context = parts_.context;
    pipeline.prompts = &state.prompts;
    pipeline.rollout_version = state.step;
    pipeline_ = std::make_unique<AsyncRollout>(pipeline);
    next_batch_step_ = state.step + static_cast<int64_t>(state.in_flight.size());
    pipeline_->Restore(std::move(state.in_flight));
    state.in_flight.clear();
  }

  absl::Status Collect(std::vector<Group>* groups, monitor::Metrics* metrics) override {
    parts_.filter->CountGeneration();
    PONDER_RETURN_IF_ERROR(IssueAhead());
    const RunState& state = *parts_.state;
    double waited = 0;
    PONDER_ASSIGN_OR_RETURN(BatchResult batch, pipeline_->Take(state.step, &waited));
    for (const auto& [name, value] : batch.counts) (*metrics)[name] += value;
    (*metrics)["timing/idle_s/trainer"] = waited;
    (*metrics)["timing/idle_s/rollout"] = pipeline_->TakeRolloutIdleSeconds();
    DropStaleSamples(state.step, parts_.context.job->trainer.max_staleness, &batch.groups, metrics);
    OfferGroups(*parts_.filter, std::move(batch.groups), groups);
    return absl::OkStatus();
  }

  absl::Status Publish(monitor::Metrics* metrics) override {
    // The rollout takes it when a batch made with it comes up (async_rollout.h).
    const auto start = std::chrono::steady_clock::now();
    pipeline_->Publish(SnapshotWeights(parts_.policy, parts_.state->step + 1));
    (*metrics)["timing/publish_s"] = Seconds(start);
    return absl::OkStatus();
  }

  // What is in flight goes into the checkpoint: wait for it, and keep it scored.
  absl::StatusOr<std::vector<BatchResult>> Drain() override { return pipeline_->Drain(); }

  absl::StatusOr<rollout::RolloutBackend*> EvalRollout() override {
    // The pipeline's rollout holds older weights: evaluate on the live policy.
    const int64_t version = parts_.state->step;
    if (!eval_rollout_) {
      PONDER_ASSIGN_OR_RETURN(
          RolloutConnection shared,
          SharedWeightsEngine(*parts_.context.job, parts_.policy, parts_.tokenizer, version));
      eval_rollout_.emplace(std::move(shared));
    } else {
      PONDER_RETURN_IF_ERROR(eval_rollout_->weights->Push(version));
    }
    return eval_rollout_->backend.get();
  }

 private:
  // Issues the batches up to rollout_ahead steps after this one, made with the newest weights
  // there are: those after state->step updates.
  absl::Status IssueAhead() {
    const JobConfig& job = *parts_.context.job;
    const int64_t step = parts_.state->step;
    const int64_t last = std::min(job.trainer.steps - 1, step + job.trainer.rollout_ahead);
    for (; next_batch_step_ <= last; ++next_batch_step_) {
      PONDER_RETURN_IF_ERROR(
          pipeline_->Submit(next_batch_step_, step,
                            parts_.sampler->Sample(job.data.train_batch_size, next_batch_step_)));
    }
    return absl::OkStatus();
  }

  StepBatchesParts parts_;
  std::optional<RolloutConnection> eval_rollout_;  // an engine on the live policy
  std::unique_ptr<AsyncRollout> pipeline_;         // destroyed first: it uses the rest
  int64_t next_batch_step_ = 0;                    // the next step whose batch is to be issued
};

}  // namespace

std::unique_ptr<StepBatches> MakeAsyncBatches(const StepBatchesParts& parts) {
  return std::make_unique<AsyncBatches>(parts);
}

}  // namespace ponder::trainer
