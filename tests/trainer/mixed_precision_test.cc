// bf16 compute with float32 master weights and AdamW state, on the CPU: log-probs, gradients
// and a GRPO step against float32 (tests/gpu runs the same checks on CUDA); fused attention
// against the explicit path where this LibTorch has it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include "model/internal/fused_attention.h"
#include "tests/mixed_precision_checks.h"
#include "trainer/model_setup.h"

namespace ponder::testing {
namespace {

TEST(MixedPrecisionTest, Bf16LogProbsAndGradientsMatchFloat32) {
  CheckScoresAgainstFloat32(c10::kCPU, at::kBFloat16, Bf16Tolerance());
}

TEST(MixedPrecisionTest, Bf16GrpoStepMatchesFloat32) {
  CheckGrpoStepAgainstFloat32(c10::kCPU, at::kBFloat16, Bf16Tolerance());
}

// Float32 compute through the cast path is exactly the float32 model.
TEST(MixedPrecisionTest, Float32ComputeIsUnchanged) {
  model::Decoder ref = SeededDecoder(SmallLlamaConfig(), 9);
  model::Decoder same = MixedPrecisionCopy(ref, c10::kCPU, at::kFloat);
  const ScoreBatch b = RaggedBatch(SmallLlamaConfig().vocab_size, 2, 2, 1);
  model::BatchLayout layout;
  layout.attention_mask = b.mask;
  at::NoGradGuard no_grad;
  at::Tensor hr = *ref->Hidden(b.tokens, layout);
  at::Tensor hs = *same->Hidden(b.tokens, layout);
  EXPECT_TRUE(at::equal(hr, hs));
}

// model.master_dtype: trained models keep float32 parameters and compute in model.dtype;
// `same` keeps the old behaviour (everything in model.dtype).
TEST(MixedPrecisionTest, LoadTrainedModelKeepsFloat32Masters) {
  model::ModelOptions options;
  options.dtype = model::Precision::kBFloat16;
  options.init.hidden_size = 32;
  options.init.intermediate_size = 64;
  options.init.num_heads = 2;
  options.init.num_kv_heads = 2;
  auto masters = trainer::LoadTrainedModel(options, 20);
  ASSERT_TRUE(masters.ok()) << masters.status();
  EXPECT_EQ((*masters)->param_dtype(), at::kFloat);
  EXPECT_EQ((*masters)->dtype(), at::kBFloat16);
  options.master_dtype = model::MasterPrecision::kSame;
  auto same = trainer::LoadTrainedModel(options, 20);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ((*same)->param_dtype(), at::kBFloat16);
  EXPECT_EQ((*same)->dtype(), at::kBFloat16);
  // Inference loads (eval, generate, rollout workers) take model.dtype as it is.
  options.master_dtype = model::MasterPrecision::kFloat32;
  auto plain = trainer::LoadPolicyModel(options, 20);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->param_dtype(), at::kBFloat16);
}

TEST(FusedAttentionTest, MatchesTheExplicitPath) {
  if (!model::internal::HaveFusedAttention()) {
    GTEST_SKIP() << "this LibTorch (" << TORCH_VERSION
                 << ") has no scaled_dot_product_attention (2.0 and later)";
  }
  model::Decoder m = SeededDecoder(SmallLlamaConfig(), 4);
  const ScoreBatch b = RaggedBatch(SmallLlamaConfig().vocab_size, 3, 2, 8);
  model::BatchLayout layout;
  layout.attention_mask = b.mask;
  at::NoGradGuard no_grad;
  model::internal::SetFusedAttention(false);
  at::Tensor explicit_path = *m->Hidden(b.tokens, layout);
  model::internal::SetFusedAttention(true);
  at::Tensor fused = *m->Hidden(b.tokens, layout);
  EXPECT_LT(Compare(fused, explicit_path, b.mask.ne(0).unsqueeze(2).expand_as(fused)).max, 1e-5);
}

}  // namespace
}  // namespace ponder::testing
