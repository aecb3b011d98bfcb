// The GPU path's figures on a 0.5B-parameter LLaMA-shaped model with random weights (bf16):
// batched greedy decode over the paged KV cache at 64 and 256 sequences (128 prompt tokens,
// then 128 decode steps; argmax on the device, only the chosen ids come to the host), and one
// GRPO training step through trainer::Learner (bf16 compute, float32 master weights and AdamW
// state). Prints one JSON line per case; bench/gpu_baseline.py runs the same cases in PyTorch
// eager on the same GPU and prints both with their ratios (scripts/gpu-check.sh runs both).
//
//   build-gpu/bench/bench_gpu [--quick]     (--quick: 2 layers, for a smoke run)
// Without a CUDA device it says so and exits 0.
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/device_memory.h"
#include "model/kv_cache.h"
#include "trainer/algorithm_options.h"
#include "trainer/decoder_policy.h"
#include "trainer/learner.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// 0.50B parameters: 24 layers of hidden 1024 (16 heads, 8 KV heads of 64), MLP 4864, a
// 32000-token vocabulary with its own LM head. bench/gpu_baseline.py builds the same shape.
model::ModelConfig HalfBillion(bool quick) {
  model::ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 32000;
  c.hidden_size = 1024;
  c.intermediate_size = 4864;
  c.num_layers = quick ? 2 : 24;
  c.num_heads = 16;
  c.num_kv_heads = 8;
  c.head_dim = 64;
  c.max_position_embeddings = 4096;
  c.rope_theta = 10000.0;
  return c;
}

int64_t CountParameters(const model::Decoder& m) {
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  return n;
}

double Seconds(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Greedy decode of `batch` sequences: a prompt of `prompt_len` random tokens each (one
// prefill call), then `steps` decode steps. Returns decode tokens/s (prefill excluded).
json Decode(model::Decoder& m, int64_t batch, int64_t prompt_len, int64_t steps) {
  model::KvCacheOptions options;
  options.num_slots = batch;
  options.max_seq_len = prompt_len + steps;
  auto cache = model::KvCache::Create(m->config(), options, m->dtype(), m->device());
  if (!cache.ok()) return {{"error", std::string(cache.status().message())}};
  std::mt19937_64 rng(batch);
  std::vector<int64_t> slots;
  std::vector<std::vector<int32_t>> tokens;
  for (int64_t b = 0; b < batch; ++b) {
    slots.push_back(*cache->Acquire());
    std::vector<int32_t> prompt(prompt_len);
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % m->config().vocab_size);
    tokens.push_back(prompt);
  }
  auto next = [&](const at::Tensor& logits) {
    at::Tensor ids = logits.argmax(1).to(at::kCPU);  // sampling on the device: ids come back
    const int64_t* p = ids.data_ptr<int64_t>();
    for (int64_t b = 0; b < batch; ++b) tokens[b] = {static_cast<int32_t>(p[b])};
  };
  auto t0 = Clock::now();
  auto logits = m->Step(*cache, slots, tokens);
  if (!logits.ok()) return {{"error", std::string(logits.status().message())}};
  next(*logits);
  torch::cuda::synchronize();
  const double prefill_s = Seconds(t0);
  t0 = Clock::now();
  for (int64_t s = 0; s + 1 < steps; ++s) {
    logits = m->Step(*cache, slots, tokens);
    if (!logits.ok()) return {{"error", std::string(logits.status().message())}};
    next(*logits);
  }
  torch::cuda::synchronize();
  const double decode_s = Seconds(t0);
  const double decoded = static_cast<double>(batch * (steps - 1));
  return {{"prefill_tokens_per_s", static_cast<double>(batch * prompt_len) / prefill_s},
          {"decode_tokens_per_s", decoded / decode_s},
          {"decode_step_ms", 1e3 * decode_s / static_cast<double>(steps - 1)}};
}

// One GRPO step on `groups` x `samples` trajectories of prompt_len + response_len tokens.
json TrainStep(model::Decoder& m, int64_t groups, int64_t samples, int64_t prompt_len,
               int64_t response_len, int repeats) {
  std::mt19937_64 rng(7);
  std::vector<trainer::Trajectory> batch;
  for (int64_t g = 0; g < groups; ++g) {
    std::vector<int32_t> prompt(prompt_len);
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % m->config().vocab_size);
    for (int64_t s = 0; s < samples; ++s) {
      trainer::Trajectory t;
      t.group = g;
      t.prompt_ids = prompt;
      for (int64_t i = 0; i < response_len; ++i) {
        t.response_ids.push_back(static_cast<int32_t>(rng() % m->config().vocab_size));
      }
      t.score = static_cast<double>(s % 2);
      batch.push_back(t);
    }
  }
  trainer::AlgorithmOptions algo = *trainer::AlgorithmPreset("grpo");
  algo.use_kl_loss = false;
  algo.use_kl_in_reward = false;
  trainer::TrainerOptions opts;
  opts.lr = 1e-6;
  opts.ppo_mini_batch_size = groups;  // one optimizer step per learner step
  opts.max_tokens_per_micro_batch = groups * samples * (prompt_len + response_len);
  trainer::DecoderPolicy policy(m, /*chunk_tokens=*/4096, /*keep_logits_mb=*/0);
  auto learner = trainer::Learner::Create(algo, opts, {}, &policy, nullptr, nullptr);
  if (!learner.ok()) return {{"error", std::string(learner.status().message())}};
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    torch::cuda::synchronize();
    auto t0 = Clock::now();
    auto out = (*learner)->Step(batch, r);
    if (!out.ok()) return {{"error", std::string(out.status().message())}};
    torch::cuda::synchronize();
    best = std::min(best, Seconds(t0));
  }
  const double tokens = static_cast<double>(groups * samples * (prompt_len + response_len));
  return {{"step_s", best}, {"train_tokens_per_s", tokens / best}, {"tokens", tokens}};
}

int Main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (!torch::cuda::is_available()) {
    std::cout << "bench_gpu: no CUDA device here (build with -DPONDER_WITH_CUDA=ON and run "
                 "scripts/gpu-check.sh on a GPU machine)\n";
    return 0;
  }
  const c10::Device cuda(c10::kCUDA, 0);
  torch::manual_seed(0);
  model::ModelConfig config = HalfBillion(quick);
  {
    // Decode: the rollout's copy, bf16 parameters.
    model::Decoder m(config, model::DecoderOptions{.initialize = false});
    m->to(cuda, at::kBFloat16);
    {
      at::NoGradGuard no_grad;
      for (auto& p : m->parameters()) p.normal_(0.0, 0.02);
    }
    const int64_t params = CountParameters(m);
    for (int64_t batch : {64, 256}) {
      json r = Decode(m, batch, 128, 128);
      r["case"] = "decode";
      r["batch"] = batch;
      r["params"] = params;
      std::cout << r.dump() << std::endl;
    }
  }
  {
    // Training: float32 master weights computing in bf16.
    model::Decoder m(config, model::DecoderOptions{.initialize = false});
    m->to(cuda, at::kFloat);
    {
      at::NoGradGuard no_grad;
      for (auto& p : m->parameters()) p.normal_(0.0, 0.02);
    }
    m->set_compute_dtype(at::kBFloat16);
    model::ResetPeakDeviceMemory(cuda);
    json r = TrainStep(m, 4, 4, 64, 448, 3);
    r["case"] = "train_step";
    r["params"] = CountParameters(m);
    if (auto mem = model::GetDeviceMemory(cuda)) {
      r["peak_allocated_gib"] = static_cast<double>(mem->peak_allocated) / (1 << 30);
    }
    std::cout << r.dump() << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace ponder

int main(int argc, char** argv) { return ponder::Main(argc, argv); }
