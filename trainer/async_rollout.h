// Asynchronous mode (`trainer.mode: async`): rollout and reward run on threads of their own
// while the trainer trains, with bounded staleness (DESIGN.md §1).
//
// Schedule. The batch of (0-based) step s is issued at the start of step s - rollout_ahead
// (all of the first rollout_ahead + 1 batches at the start) and generated with the newest
// weights the trainer has then, version s - rollout_ahead: the rollout works on the next
// batches while the trainer trains on this one, and the samples it makes are rollout_ahead
// versions old when trained on. Work is admitted only as far ahead as that (admission
// control: nothing is generated that would be too old), rather than generated freely and
// dropped: on a machine where rollout and training share cores, every sample made and then
// thrown away costs the other role time. Samples whose oldest token is still older than
// max_staleness when their step comes (partial rollouts resumed from earlier batches) are
// dropped (rollout/dropped_stale) and not refilled, so that the step does not wait on new
// generation.
//
// Each batch is generated on one weight version, pushed to the rollout between batches.
// Generation is therefore a function of the schedule alone, not of timing, so that a run
// resumed from a checkpoint is exact: the checkpoint waits for the batches in flight and
// keeps them, scored (`in_flight` of RunState).
//
//   AsyncRollout pipeline(parts);                   // starts its threads
//   pipeline.Publish(weights_of_version_v);         // after each update
//   pipeline.Submit(step, version, dataset_indices);
//   PONDER_ASSIGN_OR_RETURN(BatchResult batch, pipeline.Take(step));
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "monitor/metrics.h"
#include "reward/reward_backend.h"
#include "rollout/rollout.h"
#include "trainer/rollout_round.h"

namespace ponder::trainer {

// The policy's weights at one version, owned.
struct WeightVersion {
  int64_t version = 0;
  std::vector<rollout::WeightTensor> tensors;
};

// One step's batch as the rollout and reward made it: finished samples grouped by prompt and
// scored, and the step's rollout and reward counters (rollout/generated_tokens,
// rollout/paused, reward/errors, timing/gen_s, timing/reward_s, timing/sync_s).
struct BatchResult {
  int64_t step = 0;     // 0-based step it is for
  int64_t version = 0;  // the weights it was generated with
  std::vector<Group> groups;
  monitor::Metrics counts;
};

class AsyncRollout {
 public:
  struct Parts {
    rollout::RolloutBackend* rollout = nullptr;
    reward::RewardBackend* reward = nullptr;
    RoundContext context;
    PromptsInFlight* prompts = nullptr;  // shared with checkpoints: read while drained
    int64_t rollout_version = 0;         // the version the rollout holds now
  };
  explicit AsyncRollout(Parts parts);
  ~AsyncRollout();  // cancels the generation in progress

  // Weights for batches of this version (versions only go up).
  void Publish(std::shared_ptr<const WeightVersion> weights);
  // Issues the batch of step `step` from dataset rows `indices`, generated with `version`.
  // Fails (nothing issued) when the prompts cannot be encoded (as IssuePrompts does).
  absl::Status Submit(int64_t step, int64_t version, const std::vector<int64_t>& indices);
  // Waits for the batch of `step`; `waited_s` gets the time spent waiting. An error of the
  // rollout or reward ends the run.
  absl::StatusOr<BatchResult> Take(int64_t step, double* waited_s);
  // Waits until every submitted batch is scored, and returns those not taken yet, in step
  // order (what a checkpoint keeps).
  absl::StatusOr<std::vector<BatchResult>> Drain();
  // Batches of a checkpoint, taken as if they had just been made.
  void Restore(std::vector<BatchResult> batches);
  // Seconds the rollout thread spent waiting for work or weights since the last call.
  double TakeRolloutIdleSeconds();

 private:
  struct Pending {
    int64_t step = 0;
    int64_t version = 0;
    rollout::GenerateRequest request;
    monitor::Metrics counts;
    std::vector<rollout::Trajectory> trajectories;
  };

  void GenerateLoop();
  void ScoreLoop();
  absl::Status GenerateOne(Pending* batch);

  Parts parts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Pending> to_generate_;
  std::deque<Pending> to_score_;
  std::map<int64_t, BatchResult> done_;
  std::map<int64_t, absl::Status> failed_;
  std::map<int64_t, std::shared_ptr<const WeightVersion>> weights_;
  int64_t busy_ = 0;  // batches submitted and not yet in done_ or failed_
  double rollout_idle_s_ = 0;
  std::shared_ptr<rollout::GenerateCall> running_;  // to cancel on shutdown
  std::mutex prompts_mu_;                           // guards *parts_.prompts
  std::thread generate_thread_;
  std::thread score_thread_;
};

}  // namespace ponder::trainer
