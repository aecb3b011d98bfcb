// Shared by the mixed-precision tests on the CPU (tests/model, tests/trainer) and the tests
// labelled `gpu` (tests/gpu): a small LLaMA-shaped decoder with seeded weights, a copy of it
// that keeps float32 master weights and computes in a lower precision on some device, ragged
// batches, and the measures the tests compare with.
#pragma once

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cstdint>
#include <random>
#include <vector>

#include "model/decoder.h"
#include "trainer/trajectory.h"

namespace ponder::testing {

// Two layers, grouped heads, 96 tokens: big enough that bf16 rounding shows, small enough for
// the CPU.
inline model::ModelConfig SmallLlamaConfig() {
  model::ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 96;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 128;
  return c;
}

// Float32 on the CPU, weights drawn as transformers initialises them from `seed`.
inline model::Decoder SeededDecoder(const model::ModelConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  return model::Decoder(config);
}

// The same weights as float32 master weights on `device`, computing in `compute`.
inline model::Decoder MixedPrecisionCopy(const model::Decoder& source, c10::Device device,
                                         c10::ScalarType compute) {
  model::Decoder copy = model::CloneDecoder(source);
  copy->to(device);
  copy->set_compute_dtype(compute);
  return copy;
}

// Rows of prompt + response, right-padded to a common length: `prompts` prompts with
// `samples` responses each (so DecoderPolicy shares the prompts), ragged lengths.
struct ScoreBatch {
  at::Tensor tokens, mask, targets;  // [B, L] int64
};
inline ScoreBatch RaggedBatch(int64_t vocab, int64_t prompts, int64_t samples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int64_t>> rows;
  std::vector<int64_t> prompt_len;
  for (int64_t p = 0; p < prompts; ++p) {
    std::vector<int64_t> prompt(3 + rng() % 6);
    for (auto& t : prompt) t = static_cast<int64_t>(rng() % vocab);
    for (int64_t s = 0; s < samples; ++s) {
      std::vector<int64_t> row = prompt;
      const int64_t n = 2 + static_cast<int64_t>(rng() % 12);
      for (int64_t i = 0; i < n; ++i) row.push_back(static_cast<int64_t>(rng() % vocab));
      rows.push_back(row);
      prompt_len.push_back(static_cast<int64_t>(prompt.size()));
    }
  }
  int64_t L = 0;
  for (const auto& r : rows) L = std::max<int64_t>(L, static_cast<int64_t>(r.size()));
  const int64_t B = static_cast<int64_t>(rows.size());
  ScoreBatch b{at::zeros({B, L}, at::kLong), at::zeros({B, L}, at::kLong),
               at::full({B, L}, -1, at::kLong)};
  for (int64_t i = 0; i < B; ++i) {
    const int64_t n = static_cast<int64_t>(rows[i].size());
    for (int64_t j = 0; j < n; ++j) {
      b.tokens[i][j] = rows[i][j];
      b.mask[i][j] = 1;
      if (j + 1 < n && j + 1 >= prompt_len[i]) b.targets[i][j] = rows[i][j + 1];
    }
  }
  return b;
}

// GRPO-shaped: `prompts` groups of `samples` trajectories; the reward is the fraction of
// even tokens in the response, so that every group has a spread.
inline std::vector<trainer::Trajectory> GrpoBatch(int64_t vocab, int64_t prompts, int64_t samples,
                                                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<trainer::Trajectory> batch;
  for (int64_t p = 0; p < prompts; ++p) {
    std::vector<int32_t> prompt(2 + rng() % 5);
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % vocab);
    for (int64_t s = 0; s < samples; ++s) {
      trainer::Trajectory t;
      t.group = p;
      t.prompt_ids = prompt;
      const int64_t n = 2 + static_cast<int64_t>(rng() % 10);
      int64_t even = 0;
      for (int64_t i = 0; i < n; ++i) {
        t.response_ids.push_back(static_cast<int32_t>(rng() % vocab));
        even += t.response_ids.back() % 2 == 0;
      }
      t.score = static_cast<double>(even) / static_cast<double>(n);
      batch.push_back(t);
    }
  }
  return batch;
}

// All parameters, flattened into one float64 CPU vector (named_parameters order).
inline at::Tensor FlatParameters(const model::Decoder& m) {
  std::vector<at::Tensor> parts;
  for (const auto& p : m->parameters())
    parts.push_back(p.detach().to(at::kCPU, at::kDouble).view(-1));
  return at::cat(parts);
}

inline double CosineSimilarity(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = a.to(at::kCPU, at::kDouble).reshape(-1),
             y = b.to(at::kCPU, at::kDouble).reshape(-1);
  return (x * y).sum().item<double>() / (x.norm().item<double>() * y.norm().item<double>());
}

// Max and mean |a - b| over the positions where `where` is true (both moved to the CPU).
struct Diff {
  double max = 0, mean = 0;
};
inline Diff Compare(const at::Tensor& a, const at::Tensor& b, const at::Tensor& where) {
  at::Tensor d = (a.to(at::kCPU, at::kDouble) - b.to(at::kCPU, at::kDouble)).abs();
  d = d.masked_select(where.to(at::kCPU));
  return {d.max().item<double>(), d.mean().item<double>()};
}

}  // namespace ponder::testing
