// Helpers shared by the engine's tests: tiny engines, requests, and comparisons of samples.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "rollout/engine.h"
#include "tests/rollout/tiny_model.h"

namespace ponder::rollout::testing {

using Key = std::pair<uint64_t, uint32_t>;

inline std::shared_ptr<model::DecoderImpl> Model(uint64_t seed) { return MakeTinyModel(seed); }

inline EngineOptions Options(int64_t slots, int64_t max_seq_len = 128) {
  EngineOptions o;
  o.max_seq_len = max_seq_len;
  o.kv_cache_bytes = int64_t{1} << 30;
  o.max_running = slots;
  return o;
}

inline std::unique_ptr<RolloutEngine> Engine(std::shared_ptr<model::DecoderImpl> m,
                                             const EngineOptions& o) {
  absl::StatusOr<std::unique_ptr<RolloutEngine>> e = RolloutEngine::Create(std::move(m), o);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? std::move(*e) : nullptr;
}

inline SamplingOptions Sampling(uint64_t seed, int64_t max_new, double temperature = 1.0) {
  SamplingOptions s;
  s.seed = seed;
  s.max_new_tokens = max_new;
  s.temperature = temperature;
  return s;
}

inline PromptRequest Prompt(uint64_t index, int length, uint32_t n, const SamplingOptions& s) {
  PromptRequest p;
  p.prompt_index = index;
  for (int i = 0; i < length; ++i)
    p.token_ids.push_back(static_cast<int32_t>((index * 7 + i * 13) % 90 + 3));
  p.n = n;
  p.sampling = s;
  return p;
}

inline GenerateRequest Request(std::vector<PromptRequest> prompts) {
  GenerateRequest r;
  r.prompts = std::move(prompts);
  return r;
}

inline std::map<Key, Trajectory> ByKey(const std::vector<Trajectory>& ts) {
  std::map<Key, Trajectory> out;
  for (const Trajectory& t : ts) out[{t.prompt_index, t.sample_index}] = t;
  return out;
}

inline std::vector<Trajectory> RunAll(RolloutBackend& backend, const GenerateRequest& r) {
  absl::StatusOr<std::vector<Trajectory>> out = backend.Generate(r);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<Trajectory>{};
}

// Tokens must match exactly. Log-probs of the same token computed in batches of different
// shapes differ in float32 rounding (the GEMM kernels block rows differently, and the
// machine's load changes the split): up to about 1e-5 has been seen, so 1e-4, the bound the
// rollout and the trainer must meet too.
inline void ExpectSameSamples(const Trajectory& a, const Trajectory& b, double logprob_tol = 1e-4) {
  EXPECT_EQ(a.token_ids, b.token_ids) << a.prompt_index << "/" << a.sample_index;
  ASSERT_EQ(a.logprobs.size(), b.logprobs.size());
  for (size_t i = 0; i < a.logprobs.size(); ++i) {
    EXPECT_NEAR(a.logprobs[i], b.logprobs[i], logprob_tol) << "token " << i;
  }
  EXPECT_EQ(a.finish_reason, b.finish_reason);
}

// Collects an asynchronous call's trajectories and final status.
struct Collector {
  std::mutex mu;
  std::vector<Trajectory> trajectories;
  absl::Notification done;
  absl::Status status;
  GenerateCallbacks Callbacks() {
    GenerateCallbacks c;
    c.on_trajectory = [this](Trajectory t) {
      std::lock_guard<std::mutex> lock(mu);
      trajectories.push_back(std::move(t));
    };
    c.on_done = [this](absl::Status s) {
      status = s;
      done.Notify();
    };
    return c;
  }
};

inline GenerateRequest Resume() {
  GenerateRequest r;
  r.resume_paused = true;
  return r;
}

}  // namespace ponder::rollout::testing
