// The in-process generation engine: continuous batching over a paged KV cache.
//
// One scheduler thread owns the KV cache (model/kv_cache.h: fixed-size blocks from one pool,
// allocated once from `kv_cache_bytes`). Requests enter a queue; every step decodes one token
// for each running sequence and feeds prompt chunks of newly admitted ones in the same call
// (chunked prefill, at most `max_step_tokens` tokens per step); a sequence that finishes
// leaves at once and its blocks go to waiting ones. Concurrency is bounded by the tokens
// sequences actually hold (and `max_running`), not by max_seq_len. The n samples of a prompt
// share one prefill and its blocks (KvCache::Fork, copy on write). When the pool runs out,
// the newest sequences are preempted and recomputed later (rollout/internal/scheduler.h), with
// the same tokens they would have drawn.
//
// Weights: the engine runs on a Decoder it is given and does not copy it, so a trainer in the
// same process can share its weights with the engine:
//   - AdvanceVersion(v, fn) runs `fn` (e.g. the optimizer step on the shared model) between
//     two decode steps and then sets the version to v;
//   - UpdateWeights(v, tensors) copies named tensors into the model the same way (remote
//     updates, or a rollout copy of the weights).
// Every generated token records the version it was sampled under; running sequences keep the
// keys and values their earlier tokens produced.
//
// Partial rollouts (Kimi k1.5): with SamplingOptions::round_token_budget, a sample that has
// made that many tokens in the current round is paused: it comes back with
// FinishReason::kPaused and waits in the engine's PartialRolloutStore. A later request with
// `resume_paused` re-feeds its prompt and tokens (with the weights of that time) and continues
// it; its final trajectory holds every round's tokens, log-probs and version segments.
//
// This header is free of LibTorch: the model is passed as std::shared_ptr<DecoderImpl>
// (`decoder.ptr()` of a model::Decoder).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model_config.h"
#include "model/model_options.h"
#include "rollout/rollout.h"
#include "rollout/rollout_options.h"

namespace ponder::model {
class DecoderImpl;
class Tokenizer;
}  // namespace ponder::model

namespace ponder::rollout {

struct EngineOptions {
  // Tokens per sequence (prompt + response); 0: the model's max_position_embeddings.
  int64_t max_seq_len = 0;
  // KV cache memory budget in bytes: the pool's blocks.
  int64_t kv_cache_bytes = int64_t{256} << 20;
  // Cap on running sequences; 0: as many as the blocks (and max_step_tokens) allow.
  int64_t max_running = 0;
  // Tokens fed to the model per step (one per running sequence, plus prefill chunks).
  int64_t max_step_tokens = 2048;
  // Tokens per KV cache block.
  int64_t kv_block_size = 16;
  // Where paused partial rollouts are kept across restarts ("": memory only).
  std::string partial_store_dir;
  // The weight version the engine starts at.
  int64_t initial_version = 0;
  // A name reported by GetStatus.
  std::string model_name;

  static EngineOptions FromConfig(const RolloutOptions& config);
};

class RolloutEngine : public RolloutBackend {
 public:
  // Starts the scheduler thread. `tokenizer` (optional) is needed for stop strings and
  // return_text. Errors: an invalid option (InvalidArgument naming it), a budget below one
  // slot, an unreadable partial store.
  static absl::StatusOr<std::unique_ptr<RolloutEngine>> Create(
      std::shared_ptr<model::DecoderImpl> model, const EngineOptions& options,
      std::shared_ptr<const model::Tokenizer> tokenizer = nullptr);

  // Stops the scheduler: unfinished samples come back as kAborted (resumed partial rollouts
  // stay in the store) and their calls end CANCELLED.
  ~RolloutEngine() override;

  absl::StatusOr<std::shared_ptr<GenerateCall>> StartGenerate(GenerateRequest request,
                                                              GenerateCallbacks callbacks) override;
  absl::Status UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors) override;
  absl::StatusOr<BackendStatus> GetStatus() override;

  // Runs `between_steps` on the scheduler thread between two decode steps (no step runs
  // meanwhile), then sets the weight version to `version` (> the current one). If it fails,
  // the version stays and its error is returned. Blocks until done.
  absl::Status AdvanceVersion(int64_t version, std::function<absl::Status()> between_steps = {});

  int64_t weight_version() const;
  int64_t num_slots() const;  // the most sequences that can run at once
  int64_t max_seq_len() const;
  int64_t vocab_size() const;
  int64_t kv_cache_blocks() const;  // blocks in the KV cache's pool
  int64_t kv_block_size() const;    // tokens per block

  // Work counters, for tests and benchmarks.
  struct Counters {
    int64_t steps = 0;
    int64_t prefill_tokens = 0;  // prompt (and resumed) tokens fed to the model
    int64_t decode_tokens = 0;   // tokens generated
    int64_t peak_running = 0;    // most sequences holding a slot at once
    int64_t peak_kv_blocks = 0;  // most KV cache blocks in use at once
    int64_t preemptions = 0;     // sequences that gave their blocks back to be recomputed
  };
  Counters counters() const;

  class Impl;

 private:
  explicit RolloutEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Loads the model and tokenizer named by `model` (the tokenizer from `model.tokenizer`, else
// the model's folder; without one the engine serves token ids only) and starts an engine with
// the `rollout:` options.
struct LoadedEngine {
  std::unique_ptr<RolloutEngine> engine;
  std::shared_ptr<const model::Tokenizer> tokenizer;  // null when none was found
  model::ModelConfig config;                          // the model's architecture and ids
};
absl::StatusOr<LoadedEngine> LoadRolloutEngine(const model::ModelOptions& model,
                                               const RolloutOptions& rollout);

}  // namespace ponder::rollout
