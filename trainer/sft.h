// Supervised fine-tuning (`ponder sft`): the warm start before RL.
//
// Demonstrations come from the job's `data:` section: a built-in task's worked solutions
// (builtin_task.h, style `answer` or `chain_of_thought`), or JSONL files whose rows carry a
// prompt (data.prompt_key, text or chat messages) and a response (sft.response_key). The loss
// is the mean negative log-likelihood of the response tokens (prompt tokens are not trained);
// with sft.max_tokens_per_row, several demonstrations are packed into one row, each attending
// only to itself. The model starts from model.path or model.init, and the result is written
// as a Hugging Face folder that `ponder train` can start from (model.path).
//
//   sft:
//     steps: 300
//     lr: 1.0e-3
//     betas: [0.9, 0.98]
//     eps: 1.0e-8
//     weight_decay: 0.0
//     lr_scheduler_type: constant  # or cosine (down to min_lr_ratio * lr at the last step)
//     lr_warmup_steps: 20     # linear warm-up: step s < W uses lr * (s + 1) / W
//     min_lr_ratio: 0.0
//     grad_clip: 1.0          # global L2 norm (0: off)
//     batch_size: 64          # demonstrations per optimizer step
//     max_tokens_per_row: 0   # pack demonstrations into rows this long (0: one per row)
//     style: answer           # built-in tasks: answer | chain_of_thought
//     response_key: response  # JSONL: the field holding the demonstration's response
//     eval_every: 25          # greedy accuracy on the held-out prompts (the eval: options)
//     stop_at_accuracy: 0.0   # stop once held-out greedy accuracy reaches this (0: never)
//     output: ""              # where the model goes (default RUN_DIR/final)
//
// The optimizer keys (steps to grad_clip) are those of `trainer:` (OptimizerOptions in
// trainer/trainer_options.h), applied by the same OptimizerStep: AdamW, the schedule,
// clipping, and a step skipped when the loss or a gradient is not finite. `warmup_steps` is
// now `lr_warmup_steps`; the old name is an error that says so.
//
// Metrics (RUN_DIR/metrics.jsonl): sft/loss, sft/lr, sft/grad_norm (before clipping),
// sft/tokens, sft/skipped_lines, sft/skipped_steps, perf/train_tokens_per_s, and the
// evaluations' val/<set>/...
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "trainer/trainer_options.h"

namespace ponder::trainer {

struct JobConfig;

struct SftOptions : OptimizerOptions {
  SftOptions();  // the SFT defaults of the optimizer keys (above)

  int64_t batch_size = 64;
  int64_t max_tokens_per_row = 0;
  std::string style = "answer";
  std::string response_key = "response";
  int64_t eval_every = 25;
  double stop_at_accuracy = 0.0;
  std::string output;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

struct SftResult {
  int64_t steps = 0;            // optimizer steps taken
  double greedy_accuracy = -1;  // of the last evaluation (-1: none)
  std::string output;           // the written model folder
};

struct SftRunOptions {
  bool progress = true;  // progress lines to stderr
  // When this becomes true (a time budget ran out, a signal), SFT ends after the current step
  // as if it were the last: it evaluates and writes the model.
  const std::atomic<bool>* stop_requested = nullptr;
};

// Runs the SFT job of `job` (its sft:, model:, data:, rollout:, reward:, eval:, run: sections).
absl::StatusOr<SftResult> RunSft(const JobConfig& job, const SftRunOptions& options = {});

}  // namespace ponder::trainer
