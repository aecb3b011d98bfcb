// `data:` — where training and held-out prompts come from and how they are sampled.
//
//   data:
//     train_files: [data/gsm8k_train.jsonl]   # verl-style JSONL (see dataset.h) ...
//     val_files: [data/gsm8k_test.jsonl]
//     prompt_key: prompt                       # row layout (JsonlFormat)
//     ground_truth_key: reward_model.ground_truth
//     data_source_key: data_source
//     extra_info_key: extra_info
//     level_key: ""
//     on_bad_line: error                       # or skip (skipped lines are counted)
//     on_bad_sample: error                     # a prompt too long for the context, or a
//                                              #   response the verifier cannot score: stop
//                                              #   with its name, or skip it and count it
//     task: {name: arithmetic, levels: [3]}    # ... or a built-in task (builtin_task.h)
//     train_batch_size: 32                     # prompts per RL step
//     sampler: {name: uniform}                 # prompt_sampler.h
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "trainer/builtin_task.h"
#include "trainer/dataset.h"
#include "trainer/prompt_sampler.h"

namespace ponder::trainer {

// What the RL loop does with a prompt that does not fit the context (or cannot be encoded)
// and with a response whose reward cannot be computed.
enum class BadSamplePolicy { kError, kSkip };

struct DataOptions {
  std::vector<std::string> train_files;
  std::vector<std::string> val_files;
  JsonlFormat format;  // its keys sit directly in `data:`
  BuiltinTaskOptions task;
  int64_t train_batch_size = 32;
  SamplerOptions sampler;
  BadSamplePolicy on_bad_sample = BadSamplePolicy::kError;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// The training and held-out prompts the options name: JSONL files, or the built-in task's
// generated splits. (Held-out is empty when no val_files are given for JSONL data.)
absl::StatusOr<TaskSplits> LoadPromptData(const DataOptions& options);

}  // namespace ponder::trainer
