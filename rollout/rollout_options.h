// The `rollout:` section of a job config, and the sampling parameters of one request.
//
//   rollout:
//     n: 8                       # samples per prompt (they share the prompt's prefill)
//     max_seq_len: 0             # tokens per sequence, prompt + response (0: the model's
//                                #   max_position_embeddings)
//     kv_cache_bytes: 268435456  # KV cache memory budget, paged in blocks: with what the
//                                #   sequences actually hold, it decides how many run at once
//     kv_block_size: 16          # tokens per KV cache block
//     max_running: 0             # cap on running sequences (0: as many as the budget allows)
//     max_step_tokens: 2048      # tokens per decode step: running sequences + prefill chunks
//     partial_store_dir: ""      # where paused partial rollouts are kept across restarts
//                                #   ("": in memory only; `ponder train` then keeps them in
//                                #   RUN_DIR/partial_rollouts, inside its checkpoints)
//     addresses: []              # `ponder rollout` workers (HOST:PORT; a DNS name stands for
//                                #   every address it resolves to, re-resolved every
//                                #   resolve_interval_s); empty: the engine runs in process
//     token: ""                  # shared secret the workers require ($PONDER_ROLLOUT_TOKEN)
//     tls: {cert: "", key: "", ca: ""}  # ca: talk TLS to the workers (rpc/tls_options.h)
//     connect_timeout_s: 60      # at start every worker must answer within this
//     health_interval_s: 1       # each worker's gRPC health service is probed this often ...
//     health_timeout_s: 2        # ... with this deadline; `health_misses` misses in a row
//     health_misses: 2           #   (or a failed call) fail the worker: its unfinished
//                                #   prompts go to the others; it rejoins when it answers
//     resolve_interval_s: 30
//     no_worker_timeout_s: 300   # with no worker alive, a step waits this long for one
//     shared_memory: true        # workers on the trainer's host map new weights from
//                                #   /dev/shm instead of receiving them through gRPC
//     sampling:
//       temperature: 1.0         # 0 = greedy
//       top_p: 1.0               # nucleus; 1 = off
//       top_k: 0                 # 0 = off
//       min_p: 0.0               # 0 = off
//       repetition_penalty: 1.0  # 1 = off (CTRL-style, over prompt and response tokens)
//       max_new_tokens: 256
//       stop_token_ids: []       # besides these, nothing stops a sample (add the EOS id here)
//       stop_strings: []
//       seed: 0
//       repeat_ngram: 0          # Kimi-style repetition stop: an n-gram of this many tokens ...
//       repeat_count: 0          # ... repeated this many times in a row ends the sample (0: off)
//       round_token_budget: 0    # partial rollouts: response tokens per sample per round (0: off)
//
// The definitions are inline so that the job config (ponder::trainer) can bind this section
// without linking the LibTorch-based rollout library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/config.h"
#include "rpc/tls_options.h"

namespace ponder::rollout {

struct SamplingOptions {
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  int64_t max_new_tokens = 256;
  std::vector<int32_t> stop_token_ids;
  std::vector<std::string> stop_strings;
  uint64_t seed = 0;
  int64_t repeat_ngram = 0;
  int64_t repeat_count = 0;
  int64_t round_token_budget = 0;

  // Field checks shared by the config and by requests (ValidateRequest); "" when valid, else
  // the first problem as "<field> must ... (got ...)".
  std::string FirstProblem() const {
    if (!(temperature >= 0))
      return absl::StrCat("temperature must be >= 0 (got ", temperature, ")");
    if (!(top_p > 0 && top_p <= 1))
      return absl::StrCat("top_p must be in (0, 1] (got ", top_p, ")");
    if (top_k < 0) return absl::StrCat("top_k must be >= 0 (got ", top_k, ")");
    if (!(min_p >= 0 && min_p <= 1))
      return absl::StrCat("min_p must be in [0, 1] (got ", min_p, ")");
    if (!(repetition_penalty > 0)) {
      return absl::StrCat("repetition_penalty must be > 0 (got ", repetition_penalty, ")");
    }
    if (max_new_tokens < 1) {
      return absl::StrCat("max_new_tokens must be >= 1 (got ", max_new_tokens, ")");
    }
    for (int32_t id : stop_token_ids) {
      if (id < 0) return absl::StrCat("stop_token_ids must be >= 0 (got ", id, ")");
    }
    for (const std::string& s : stop_strings) {
      if (s.empty()) return "stop_strings must not contain an empty string";
    }
    if (repeat_ngram < 0 || repeat_count < 0) {
      return absl::StrCat("repeat_ngram and repeat_count must be >= 0 (got ", repeat_ngram, ", ",
                          repeat_count, ")");
    }
    if ((repeat_ngram > 0) != (repeat_count > 0)) {
      return absl::StrCat("repeat_ngram and repeat_count must be set together (got ", repeat_ngram,
                          ", ", repeat_count, ")");
    }
    if (repeat_count == 1) return "repeat_count must be >= 2 (1 would stop every sample)";
    if (round_token_budget < 0) {
      return absl::StrCat("round_token_budget must be >= 0 (got ", round_token_budget, ")");
    }
    return "";
  }

  void Bind(config::Binder& b) {
    b.Field("temperature", temperature).AtLeast(0.0);
    b.Field("top_p", top_p).GreaterThan(0.0).AtMost(1.0);
    b.Field("top_k", top_k).AtLeast(0);
    b.Field("min_p", min_p).InRange(0.0, 1.0);
    b.Field("repetition_penalty", repetition_penalty).GreaterThan(0.0);
    b.Field("max_new_tokens", max_new_tokens).AtLeast(1);
    b.Field("stop_token_ids", stop_token_ids);
    b.Field("stop_strings", stop_strings);
    b.Field("seed", seed);
    b.Field("repeat_ngram", repeat_ngram).AtLeast(0);
    b.Field("repeat_count", repeat_count).AtLeast(0);
    b.Field("round_token_budget", round_token_budget).AtLeast(0);
  }
  absl::Status Validate() const {
    std::string problem = FirstProblem();
    if (problem.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(problem);
  }
};

struct RolloutOptions {
  int64_t n = 8;
  int64_t max_seq_len = 0;
  int64_t kv_cache_bytes = int64_t{256} << 20;
  int64_t max_running = 0;
  int64_t max_step_tokens = 2048;
  int64_t kv_block_size = 16;
  std::string partial_store_dir;
  std::vector<std::string> addresses;
  std::string token;
  rpc::TlsOptions tls;
  double connect_timeout_s = 60;
  double health_interval_s = 1;
  double health_timeout_s = 2;
  int64_t health_misses = 2;
  double resolve_interval_s = 30;
  double no_worker_timeout_s = 300;
  bool shared_memory = true;
  SamplingOptions sampling;

  void Bind(config::Binder& b) {
    b.Field("n", n).AtLeast(1);
    b.Field("max_seq_len", max_seq_len).AtLeast(0);
    b.Field("kv_cache_bytes", kv_cache_bytes).GreaterThan(0);
    b.Field("max_running", max_running).AtLeast(0);
    b.Field("max_step_tokens", max_step_tokens).AtLeast(1);
    b.Field("kv_block_size", kv_block_size).AtLeast(1);
    b.Field("partial_store_dir", partial_store_dir);
    b.Field("addresses", addresses);
    b.Field("token", token);
    b.Field("tls", tls);
    b.Field("connect_timeout_s", connect_timeout_s).GreaterThan(0.0);
    b.Field("health_interval_s", health_interval_s).GreaterThan(0.0);
    b.Field("health_timeout_s", health_timeout_s).GreaterThan(0.0);
    b.Field("health_misses", health_misses).AtLeast(1);
    b.Field("resolve_interval_s", resolve_interval_s).GreaterThan(0.0);
    b.Field("no_worker_timeout_s", no_worker_timeout_s).GreaterThan(0.0);
    b.Field("shared_memory", shared_memory);
    b.Field("sampling", sampling);
  }
  absl::Status Validate() const {
    if (max_seq_len > 0 && sampling.max_new_tokens >= max_seq_len) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sampling.max_new_tokens (", sampling.max_new_tokens, ") must be below max_seq_len (",
          max_seq_len, "), which also holds the prompt"));
    }
    return absl::OkStatus();
  }
};

}  // namespace ponder::rollout
