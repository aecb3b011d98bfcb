// Offline batch generation (`ponder generate --prompts FILE.jsonl --n K --output OUT.jsonl`):
// every prompt of a JSONL file through the rollout engine, n samples each.
//
// Input lines: {"prompt": "text"} (encoded with the tokenizer's BOS first, when it has one)
// or {"messages": [{"role": "user", "content": "..."}, ...]} (rendered with the model's chat
// template, ending where the assistant's answer starts). Blank lines are skipped.
// Output lines, one per sample, ordered by prompt then sample:
//   {"prompt_index": 0, "sample_index": 1, "text": "...", "token_ids": [...],
//    "logprobs": [...], "finish_reason": "stop", "version": 0}
// `token_ids` are the generated tokens only (a final end-of-sequence token included);
// `text` leaves special tokens out. Samples end at the model's and tokenizer's end-of-sequence
// ids (llama2.c checkpoints also at BOS, as run.c does) and, for chat prompts, at the
// template's end-of-turn token.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/chat_template.h"
#include "model/model_options.h"
#include "rollout/rollout_options.h"

namespace ponder::rollout {

struct BatchGenerateOptions {
  model::ModelOptions model;
  model::ChatTemplateOptions chat;
  RolloutOptions rollout;  // engine options; rollout.sampling applies to every prompt
  std::string prompts_path;
  std::string output_path;
  uint32_t n = 1;
};

struct BatchGenerateStats {
  int64_t prompts = 0;
  int64_t trajectories = 0;
  int64_t generated_tokens = 0;
  int64_t prompt_tokens = 0;
  double seconds = 0;  // generation only (model loading excluded)
  // The engine's KV cache: most samples running at once, most blocks in use, the pool, and
  // samples preempted (their blocks freed, recomputed later) when it ran out.
  int64_t peak_running = 0;
  int64_t peak_kv_blocks = 0;
  int64_t kv_cache_blocks = 0;
  int64_t kv_block_size = 0;
  int64_t preemptions = 0;
};

// Errors name the file and line of a bad input line (not JSON, neither "prompt" nor
// "messages", a prompt that does not fit the context ...); nothing is written then.
absl::StatusOr<BatchGenerateStats> GenerateBatch(const BatchGenerateOptions& options);

}  // namespace ponder::rollout
