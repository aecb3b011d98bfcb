// Test helpers: small random LLaMA-style decoders, their weights as host tensors, and the
// trainer path's log-probs of generated tokens. The LibTorch code lives in tiny_model.cc so
// that the test files themselves compile without LibTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "rollout/rollout.h"

namespace ponder::model {
class DecoderImpl;
}

namespace ponder::rollout::testing {

struct TinyModelOptions {
  int64_t vocab = 96;
  int64_t hidden = 32;
  int64_t intermediate = 64;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t max_positions = 256;
  double init_std = 0.3;  // large enough that next-token distributions are far from uniform
};

// A decoder with weights drawn from a generator seeded with `seed` (deterministic).
std::shared_ptr<model::DecoderImpl> MakeTinyModel(uint64_t seed,
                                                  const TinyModelOptions& options = {});

// Copies of every parameter of `model`, as UpdateWeights takes them.
std::vector<WeightTensor> WeightsOf(const std::shared_ptr<model::DecoderImpl>& model);

// Copies `source`'s parameters into `target`'s tensors in place (what an optimizer step on
// weights shared with an engine does).
void OverwriteInPlace(const std::shared_ptr<model::DecoderImpl>& target,
                      const std::shared_ptr<model::DecoderImpl>& source);

// log p(generated[j] | prompt, generated[<j]) under softmax(logits / temperature), recomputed
// on the training path: DecoderImpl::Hidden, then TokenLogProbs on hidden / temperature (the
// LM head is linear without bias, so this is logits / temperature).
std::vector<float> TrainerLogProbs(const std::shared_ptr<model::DecoderImpl>& model,
                                   const std::vector<int32_t>& prompt,
                                   const std::vector<int32_t>& generated, double temperature);

// The same under top-k truncation, computed from the full logits (Hidden, Logits) with tensor
// ops: log_softmax over the k largest of logits / temperature.
std::vector<float> TopKLogProbs(const std::shared_ptr<model::DecoderImpl>& model,
                                const std::vector<int32_t>& prompt,
                                const std::vector<int32_t>& generated, double temperature,
                                int64_t top_k);

}  // namespace ponder::rollout::testing
