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
//     batch_size: 64          # demonstrations per optimizer step
//     max_tokens_per_row: 0   # pack demonstrations into rows this long (0: one per row)
//     lr: 1.0e-3
//     betas: [0.9, 0.98]
//     weight_decay: 0.0
//     warmup_steps: 20        # linear warm-up, then constant
//     grad_clip: 1.0          # global L2 norm (0: off)
//     style: answer           # built-in tasks: answer | chain_of_thought
//     response_key: response  # JSONL: the field holding the demonstration's response
//     eval_every: 25          # greedy accuracy on the held-out prompts (the eval: options)
//     stop_at_accuracy: 0.0   # stop once held-out greedy accuracy reaches this (0: never)
//     output: ""              # where the model goes (default RUN_DIR/final)
//
// Metrics (RUN_DIR/metrics.jsonl): sft/loss, sft/lr, sft/grad_norm, sft/tokens,
// perf/train_tokens_per_s, and the evaluations' val/<set>/...
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::trainer {

struct JobConfig;

struct SftOptions {
  int64_t steps = 300;
  int64_t batch_size = 64;
  int64_t max_tokens_per_row = 0;
  double lr = 1e-3;
  std::vector<double> betas = {0.9, 0.98};
  double weight_decay = 0.0;
  int64_t warmup_steps = 20;
  double grad_clip = 1.0;
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
