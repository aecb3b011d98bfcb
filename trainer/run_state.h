// What an RL checkpoint holds (RUN_DIR/checkpoints/step_<N>/, written and verified as
// trainer/checkpoint.h describes), and putting it back:
//
//   policy/                 the policy as a Hugging Face folder (with the tokenizer)
//   critic/                 the critic, when the algorithm has one
//   optimizer.pt            the policy's AdamW state (torch::save)
//   critic_optimizer.pt     the critic's
//   rng.pt                  LibTorch's default CPU generator
//   partial_rollouts/       paused partial rollouts of the in-process engine
//   in_flight.json          async mode: the batches issued for later steps, scored
//                           (batch_json.h)
//   state.json              {"step", "next_prompt_uid", "pending": [[uid, index, left]...],
//                            "sampler", "learner", "group_filter"} (their own state texts)
//
// The models themselves are loaded from policy/ and critic/ when the run is set up
// (LoadTrainingModels); RestoreRunState restores the rest.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "trainer/async_rollout.h"
#include "trainer/group_filter.h"
#include "trainer/job_config.h"
#include "trainer/learner.h"
#include "trainer/prompt_sampler.h"
#include "trainer/rollout_round.h"

namespace ponder::trainer {

// The controller's own state between steps.
struct RunState {
  int64_t step = 0;  // completed steps
  PromptsInFlight prompts;
  // Async mode: batches issued for steps after `step`, generated and scored.
  std::vector<BatchResult> in_flight;
};

// The parts of the run whose state a checkpoint keeps besides RunState. Not owned.
struct CheckpointedParts {
  model::Decoder policy{nullptr};
  model::Decoder critic{nullptr};  // null without a critic
  std::string tokenizer_source;    // copied beside the policy (model_setup.h)
  Learner* learner = nullptr;
  PromptSampler* sampler = nullptr;
  GroupFilter* filter = nullptr;
  // Paused partial rollouts to keep (RolloutConnection::partial_rollouts_dir; empty: none).
  std::string partial_rollouts_dir;
};

// Writes checkpoint `state.step` of job.run.dir and keeps the newest checkpoint.keep.
absl::Status SaveRunState(const JobConfig& job, const RunState& state,
                          const CheckpointedParts& parts);

// Restores the learner, sampler, filter, RNG and partial rollouts from checkpoint directory
// `dir`, and returns the run state. DataLoss naming the file when something is missing or
// not what it should be.
absl::StatusOr<RunState> RestoreRunState(const JobConfig& job, const std::string& dir,
                                         const CheckpointedParts& parts);

// The checkpoint `--resume` continues from: the newest one of `run_dir` that verifies
// (FailedPrecondition naming the run directory when there is none).
absl::StatusOr<std::string> ResumeCheckpoint(const std::string& run_dir);

// What the trainer ranks other than rank 0 restore (trainer_ranks.h): the learner's state and
// optimizers. Returns the checkpoint's step.
absl::StatusOr<int64_t> RestoreLearnerState(const std::string& dir, Learner* learner);

}  // namespace ponder::trainer
