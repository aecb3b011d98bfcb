// trainer.mode sync (step_batches.h): each step's groups are generated in rounds while the
// trainer waits, in the three parts of rollout_round.h.
#include <chrono>

#include "base/status.h"
#include "trainer/evaluation.h"
#include "trainer/step_batches.h"

namespace ponder::trainer {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

class SyncBatches : public StepBatches {
 public:
  explicit SyncBatches(const StepBatchesParts& parts) : parts_(parts) {}

  absl::Status Collect(std::vector<Group>* groups, monitor::Metrics* metrics) override {
    for (int64_t round = 0; parts_.filter->NeedsGeneration(); ++round) {
      parts_.filter->CountGeneration();
      PONDER_RETURN_IF_ERROR(CollectRound(round, groups, metrics));
    }
    return absl::OkStatus();
  }

  absl::Status Publish(monitor::Metrics* metrics) override {
    const auto start = std::chrono::steady_clock::now();
    PONDER_RETURN_IF_ERROR(parts_.rollout->weights->Push(parts_.state->step + 1));
    (*metrics)["timing/sync_s"] = Seconds(start);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<BatchResult>> Drain() override { return std::vector<BatchResult>{}; }

  absl::StatusOr<rollout::RolloutBackend*> EvalRollout() override {
    return parts_.rollout->backend.get();  // it holds the policy's current weights
  }

 private:
  // Round `round` of the step: issue prompts, group the finished trajectories, score them.
  absl::Status CollectRound(int64_t round, std::vector<Group>* groups, monitor::Metrics* counts) {
    const JobConfig& job = *parts_.context.job;
    RunState& state = *parts_.state;
    PONDER_ASSIGN_OR_RETURN(
        rollout::GenerateRequest request,
        IssuePrompts(parts_.context, parts_.sampler->Sample(job.data.train_batch_size, state.step),
                     state.step, round, &state.prompts, counts));
    auto start = std::chrono::steady_clock::now();
    PONDER_ASSIGN_OR_RETURN(std::vector<rollout::Trajectory> trajectories,
                            parts_.rollout->backend->Generate(request));
    (*counts)["timing/gen_s"] += Seconds(start);
    PONDER_ASSIGN_OR_RETURN(std::vector<Group> finished,
                            GroupTrajectories(parts_.context, request, std::move(trajectories),
                                              &state.prompts, counts));
    start = std::chrono::steady_clock::now();
    PONDER_RETURN_IF_ERROR(ScoreGroups(parts_.context, *parts_.reward, &finished, counts));
    (*counts)["timing/reward_s"] += Seconds(start);
    OfferGroups(*parts_.filter, std::move(finished), groups);
    return absl::OkStatus();
  }

  StepBatchesParts parts_;
};

}  // namespace

void OfferGroups(GroupFilter& filter, std::vector<Group> finished, std::vector<Group>* groups) {
  for (Group& group : finished) {
    std::vector<double> scores;
    for (const ScoredSample& s : group.samples) scores.push_back(s.result.score);
    group.kept = filter.Offer(scores) == GroupVerdict::kKeep;
    groups->push_back(std::move(group));
  }
}

void ObserveGroups(const std::vector<Group>& groups, PromptSampler& sampler) {
  for (const Group& group : groups) {
    int64_t correct = 0;
    for (const ScoredSample& s : group.samples) correct += IsCorrect(s.result) ? 1 : 0;
    sampler.Observe(group.index, static_cast<double>(correct),
                    static_cast<int64_t>(group.samples.size()));
  }
}

std::unique_ptr<StepBatches> MakeSyncBatches(const StepBatchesParts& parts) {
  return std::make_unique<SyncBatches>(parts);
}

}  // namespace ponder::trainer
