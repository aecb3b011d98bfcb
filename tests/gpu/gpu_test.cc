// The GPU path (label `gpu`): bf16 compute with float32 master weights on CUDA against the
// float32 CPU path (log-probs, gradients, a GRPO step), fused attention against the explicit
// path, generation deterministic for a seed, and the memory figures of the metrics.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <map>
#include <string>
#include <vector>

#include "model/device_memory.h"
#include "model/generate.h"
#include "model/internal/fused_attention.h"
#include "model/kv_cache.h"
#include "tests/mixed_precision_checks.h"

namespace ponder::testing {
namespace {

// Skips the calling test (with the reason) unless a CUDA device is usable.
#define REQUIRE_CUDA()                                                                      \
  do {                                                                                      \
    if (!torch::cuda::is_available()) {                                                     \
      GTEST_SKIP() << "no CUDA device (LibTorch " << TORCH_VERSION                          \
                   << "; build with -DPONDER_WITH_CUDA=ON against a CUDA LibTorch and run " \
                      "on a GPU machine: scripts/gpu-check.sh)";                            \
    }                                                                                       \
  } while (0)

const c10::Device kCuda(c10::kCUDA, 0);

TEST(GpuTest, Bf16LogProbsMatchCpuFloat32) {
  REQUIRE_CUDA();
  CheckScoresAgainstFloat32(kCuda, at::kBFloat16, Bf16Tolerance());
}

TEST(GpuTest, Float32LogProbsMatchCpuFloat32Closely) {
  REQUIRE_CUDA();
  // Float32 on the GPU differs from the CPU by summation order only.
  CheckScoresAgainstFloat32(kCuda, at::kFloat, {1e-4, 1e-5, 0.9999, 0.99, 1e-3});
}

TEST(GpuTest, Bf16GrpoStepMatchesCpuFloat32) {
  REQUIRE_CUDA();
  CheckGrpoStepAgainstFloat32(kCuda, at::kBFloat16, Bf16Tolerance());
}

TEST(GpuTest, FusedAttentionMatchesTheExplicitPath) {
  REQUIRE_CUDA();
  if (!model::internal::HaveFusedAttention()) GTEST_SKIP() << "LibTorch < 2.0";
  for (c10::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    model::Decoder m = MixedPrecisionCopy(SeededDecoder(SmallLlamaConfig(), 4), kCuda, dtype);
    const ScoreBatch b = RaggedBatch(SmallLlamaConfig().vocab_size, 3, 2, 8);
    const at::Tensor tokens = b.tokens.to(kCuda), mask = b.mask.to(kCuda);
    model::BatchLayout layout;
    layout.attention_mask = mask;
    at::NoGradGuard no_grad;
    model::internal::SetFusedAttention(false);
    at::Tensor explicit_path = *m->Hidden(tokens, layout);
    model::internal::SetFusedAttention(true);
    at::Tensor fused = *m->Hidden(tokens, layout);
    const at::Tensor where = mask.ne(0).unsqueeze(2).expand_as(fused);
    EXPECT_LT(Compare(fused, explicit_path, where).max, dtype == at::kFloat ? 1e-4 : 0.1)
        << c10::toString(dtype);
  }
}

// The same seed gives the same tokens: one sequence sampled twice, and a batch of decode
// steps over the paged cache twice (bitwise-equal logits).
TEST(GpuTest, GenerationIsDeterministicForASeed) {
  REQUIRE_CUDA();
  model::Decoder m = SeededDecoder(SmallLlamaConfig(), 3);
  m->to(kCuda, at::kBFloat16);
  model::GenerationParams params;
  params.max_new_tokens = 40;
  params.sampling.temperature = 1.0;
  params.seed = 17;
  const std::vector<int32_t> prompt = {5, 9, 2, 40};
  auto a = model::GenerateIds(*m, prompt, params);
  auto b = model::GenerateIds(*m, prompt, params);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 40u);

  auto decode = [&]() {
    model::KvCacheOptions options;
    options.num_slots = 8;
    options.max_seq_len = 64;
    auto cache = model::KvCache::Create(m->config(), options, m->dtype(), m->device());
    EXPECT_TRUE(cache.ok()) << cache.status();
    std::vector<int64_t> slots;
    std::vector<std::vector<int32_t>> tokens;
    for (int i = 0; i < 8; ++i) {
      slots.push_back(*cache->Acquire());
      tokens.push_back(std::vector<int32_t>(1 + i, static_cast<int32_t>(3 + i)));
    }
    std::vector<at::Tensor> logits;
    for (int step = 0; step < 6; ++step) {
      auto out = m->Step(*cache, slots, tokens);
      EXPECT_TRUE(out.ok()) << out.status();
      logits.push_back(out->cpu());
      at::Tensor next = out->argmax(1).cpu();
      for (int i = 0; i < 8; ++i) tokens[i] = {static_cast<int32_t>(next[i].item<int64_t>())};
    }
    return logits;
  };
  std::vector<at::Tensor> first = decode(), second = decode();
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(at::equal(first[i], second[i])) << i;
}

TEST(GpuTest, MemoryFiguresReachTheMetrics) {
  REQUIRE_CUDA();
  at::Tensor big = at::empty({64 << 20}, at::TensorOptions().dtype(at::kByte).device(kCuda));
  std::map<std::string, double> metrics;
  model::AddDeviceMemoryMetrics(kCuda, &metrics);
#ifdef PONDER_WITH_CUDA
  EXPECT_GE(metrics["perf/gpu_memory_allocated_gib"], 64.0 / 1024.0);
  EXPECT_GE(metrics["perf/gpu_memory_peak_allocated_gib"], 64.0 / 1024.0);
  EXPECT_GE(metrics["perf/gpu_memory_reserved_gib"], metrics["perf/gpu_memory_allocated_gib"]);
#else
  EXPECT_TRUE(metrics.empty()) << "a build without PONDER_WITH_CUDA reports no GPU memory";
#endif
  // Nothing for the CPU.
  std::map<std::string, double> cpu;
  model::AddDeviceMemoryMetrics(c10::kCPU, &cpu);
  EXPECT_TRUE(cpu.empty());
}

}  // namespace
}  // namespace ponder::testing
