// The RL job (`ponder train`): the controller loop of DESIGN.md §1.
//
// One step: sample prompts -> rollout (n per prompt, streamed) -> reward -> (DAPO dynamic
// sampling: more rounds until the batch holds enough groups with a signal) -> the learner
// (group shaping, advantages, policy and critic updates over mini-batches and epochs) -> new
// weights to the rollout (in process: the engine runs on the trainer's own model, so pushing
// is a version bump between decode steps; remote: streamed) -> metrics and samples ->
// evaluation and checkpoint when due.
//
// The run directory (run.dir) holds config.yaml (the resolved config), metrics.jsonl,
// samples/step_<N>.jsonl, samples/eval_step_<N>.jsonl and checkpoints/step_<N>/ (see
// trainer/checkpoint.h). `Create(job, {.resume = true})` continues from the newest complete
// checkpoint of run.dir exactly: same prompts, same samples, same updates (on one CPU thread
// the final weights are bitwise identical to an uninterrupted run).
//
// Steps are counted from 1 in metrics and checkpoint names: step_3 holds the state after three
// updates.
//
// controller.cc is the loop; each part it drives has its own file: training_models.h (policy,
// reference, critic), rollout_backend.h (the rollout backend and its WeightSync, in process
// or remote alike), step_batches.h (where each step's groups come from and its weights go:
// rounds of rollout_round.h in sync mode -- issuing prompts, grouping trajectories, scoring
// groups -- or the pipeline of async_rollout.h in async mode), trainer_ranks.h (the hand-off
// to the other trainer ranks), learner.h (the update), step_metrics.h (the step's batch,
// metrics and sample records), run_state.h (checkpoint contents), progress.h (the progress
// lines). Metrics and samples go to a monitor::MetricsSink.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "monitor/prometheus.h"
#include "rpc/worker_status.h"
#include "trainer/job_config.h"

namespace ponder::trainer {

struct ControllerOptions {
  // Continue from the newest complete checkpoint of job.run.dir (FailedPrecondition when
  // there is none).
  bool resume = false;
  // When set to true (e.g. from a SIGINT/SIGTERM handler), the run stops after the current
  // step, checkpoints (checkpoint.on_signal) and Run returns Cancelled.
  const std::atomic<bool>* stop_requested = nullptr;
  // Print one progress line per step to stderr, and a summary at the end.
  bool progress = true;
  // The process's /metrics (monitor.http): the rollout's status and, with the prometheus
  // sink, the last step's metrics go there. Null: none. Must outlive the controller.
  monitor::Registry* metrics = nullptr;
};

class Controller {
 public:
  // Loads the data, tokenizer and models, connects or starts the rollout and reward backends,
  // and prepares the run directory. Every problem is reported with what and where (config
  // key, file, line, checkpoint) before any step runs.
  static absl::StatusOr<std::unique_ptr<Controller>> Create(const JobConfig& job,
                                                            const ControllerOptions& options = {});
  ~Controller();

  // Runs the remaining steps. OK when trainer.steps are done; Cancelled when stopped by
  // `stop_requested` (after the checkpoint); any other error ends the run at that step, after
  // the metrics of the steps before it were written.
  absl::Status Run();

  // The number of completed steps (the checkpoint step the run would write now).
  int64_t completed_steps() const;

  // The run's rollout workers and reward servers (none when both run in process), e.g. for
  // the dashboard's worker table; safe to call from another thread while Run runs. The run
  // directory's workers.json holds the same after each step.
  std::vector<rpc::WorkerStatus> Workers() const;

  class Impl;

 private:
  explicit Controller(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder::trainer
