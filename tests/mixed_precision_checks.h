// Checks of the mixed-precision training path against float32 on the CPU, run on any device:
// tests/trainer/mixed_precision_test.cc runs them on the CPU, tests/gpu/gpu_test.cc on CUDA.
// Each builds a float32 CPU reference and a copy with float32 master weights that computes in
// `compute` on `device`, feeds both the same batch, and compares.
#pragma once

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <string>

#include "tests/precision_testing.h"
#include "trainer/algorithm_options.h"
#include "trainer/decoder_policy.h"
#include "trainer/learner.h"

namespace ponder::testing {

struct Tolerance {
  double log_prob_max, log_prob_mean;  // |log p| differences over scored tokens
  double grad_cosine;                  // per parameter, at least
  double update_cosine;                // of the whole AdamW update, at least
  double grad_norm_rel;                // |grad_norm / grad_norm_ref - 1|, at most
};

// The tolerances that bf16 rounding leaves on SmallLlamaConfig (about 3x what the CPU shows).
inline Tolerance Bf16Tolerance() { return {0.08, 0.015, 0.99, 0.9, 0.05}; }

// Per-token log-probs and entropies, and the gradients of a weighted sum of the log-probs,
// against the float32 CPU reference.
inline void CheckScoresAgainstFloat32(c10::Device device, c10::ScalarType compute,
                                      const Tolerance& tol) {
  model::Decoder ref = SeededDecoder(SmallLlamaConfig(), 7);
  model::Decoder mixed = MixedPrecisionCopy(ref, device, compute);
  ASSERT_EQ(mixed->param_dtype(), at::kFloat);
  ASSERT_EQ(mixed->dtype(), compute);
  const ScoreBatch b = RaggedBatch(SmallLlamaConfig().vocab_size, 3, 3, 11);
  const at::Tensor weights = at::rand(b.tokens.sizes(), at::kFloat);
  const at::Tensor valid = b.targets.ge(0);
  trainer::DecoderPolicy pr(ref, /*chunk_tokens=*/16), pm(mixed, /*chunk_tokens=*/16);
  auto sr = pr.Score(b.tokens, b.mask, b.targets, true);
  auto sm = pm.Score(b.tokens.to(device), b.mask.to(device), b.targets.to(device), true);
  ASSERT_TRUE(sr.ok()) << sr.status();
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_EQ(sm->log_probs.scalar_type(), at::kFloat);
  EXPECT_EQ(sm->log_probs.device(), device);
  const Diff lp = Compare(sm->log_probs, sr->log_probs, valid);
  const Diff ent = Compare(sm->entropy, sr->entropy, valid);
  std::cout << "log-probs vs float32: max " << lp.max << ", mean " << lp.mean << "; entropy: max "
            << ent.max << ", mean " << ent.mean << "\n";
  EXPECT_LT(lp.max, tol.log_prob_max);
  EXPECT_LT(lp.mean, tol.log_prob_mean);
  EXPECT_LT(ent.max, tol.log_prob_max);
  (sr->log_probs * weights * valid).sum().backward();
  (sm->log_probs * weights.to(device) * valid.to(device)).sum().backward();
  auto pref = ref->named_parameters();
  double worst = 1.0;
  std::string worst_name;
  for (const auto& p : mixed->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_EQ(p.value().grad().scalar_type(), at::kFloat) << p.key();
    const double c = CosineSimilarity(p.value().grad(), pref[p.key()].grad());
    if (c < worst) worst = c, worst_name = p.key();
  }
  std::cout << "lowest gradient cosine similarity: " << worst << " (" << worst_name << ")\n";
  EXPECT_GT(worst, tol.grad_cosine) << worst_name;
}

// One GRPO learner step (AdamW) on the same trajectories: the update, the gradient norm and
// the loss against the float32 CPU reference; AdamW's state stays float32.
inline void CheckGrpoStepAgainstFloat32(c10::Device device, c10::ScalarType compute,
                                        const Tolerance& tol) {
  model::Decoder ref = SeededDecoder(SmallLlamaConfig(), 5);
  model::Decoder mixed = MixedPrecisionCopy(ref, device, compute);
  const at::Tensor before = FlatParameters(ref);
  trainer::AlgorithmOptions algo = *trainer::AlgorithmPreset("grpo");
  algo.use_kl_loss = false;
  algo.use_kl_in_reward = false;
  trainer::TrainerOptions opts;
  opts.lr = 1e-3;
  opts.grad_clip = 0.0;
  const auto batch = GrpoBatch(SmallLlamaConfig().vocab_size, 4, 4, 3);
  std::map<std::string, double> metrics[2];
  int i = 0;
  for (model::Decoder* m : {&ref, &mixed}) {
    trainer::DecoderPolicy policy(*m, /*chunk_tokens=*/32);
    auto learner = trainer::Learner::Create(algo, opts, {}, &policy, nullptr, nullptr);
    ASSERT_TRUE(learner.ok()) << learner.status();
    auto out = (*learner)->Step(batch, 0);
    ASSERT_TRUE(out.ok()) << out.status();
    metrics[i++] = out->metrics;
    for (const auto& [key, state] : (*learner)->policy_optimizer().state()) {
      const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*state);
      EXPECT_EQ(adam.exp_avg().scalar_type(), m->get()->param_dtype());
      EXPECT_EQ(adam.exp_avg_sq().scalar_type(), m->get()->param_dtype());
    }
  }
  for (const auto& p : mixed->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
  const at::Tensor dr = FlatParameters(ref) - before, dm = FlatParameters(mixed) - before;
  const double cosine = CosineSimilarity(dm, dr);
  const double gr = metrics[0]["actor/grad_norm"], gm = metrics[1]["actor/grad_norm"];
  std::cout << "update cosine similarity " << cosine << "; grad_norm " << gm << " vs " << gr
            << "; pg_loss " << metrics[1]["actor/pg_loss"] << " vs " << metrics[0]["actor/pg_loss"]
            << "\n";
  EXPECT_GT(dr.norm().item<double>(), 0.0);
  EXPECT_GT(cosine, tol.update_cosine);
  EXPECT_LT(std::abs(gm / gr - 1.0), tol.grad_norm_rel);
  EXPECT_NEAR(metrics[1]["actor/pg_loss"], metrics[0]["actor/pg_loss"], tol.log_prob_mean);
}

}  // namespace ponder::testing
