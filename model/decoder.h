// The policy network: a LLaMA / Qwen2 / Qwen3-family decoder as a LibTorch module, with the
// two forward paths that training and generation need.
//
// Parameters carry Hugging Face's names (`model.embed_tokens.weight`,
// `model.layers.0.self_attn.q_proj.weight`, ..., `lm_head.weight` unless tied), so
// `named_parameters()` is directly the checkpoint's state dict; the optional value head is
// `value_head.weight` / `value_head.bias`.
//
// Training path (differentiable):
//   PONDER_ASSIGN_OR_RETURN(at::Tensor hidden, model->Hidden(input_ids, layout));  // [B, T, H]
//   PONDER_ASSIGN_OR_RETURN(TokenStats s, model->TokenLogProbs(hidden, targets));  // [B, T]
//   at::Tensor values = *model->Values(hidden);                                    // [B, T]
// `TokenLogProbs` computes log p(target) and the entropy over the vocabulary in chunks of
// tokens with its own backward, so no [tokens x vocab] tensor lives beyond one chunk, in the
// forward or the backward pass.
//
// Generation path (no autograd): a KvCache holds keys and values per sequence slot; `Step`
// appends tokens to any set of slots (a prompt's tokens for a new sequence, one sampled token
// for running ones, mixed in one call) and returns each slot's next-token logits:
//   KvCache cache = *KvCache::Create(model->config(), {.num_slots = 8, .max_seq_len = 512},
//                                    model->dtype(), model->device());
//   int64_t slot = *cache.Acquire();
//   at::Tensor logits = *model->Step(cache, {slot}, {prompt_ids});   // [1, vocab] float32
//   logits = *model->Step(cache, {slot}, {{next_id}});
// Each call writes the new keys and values into the preallocated cache in place and attends
// over each slot's own length (slots of different lengths in one batch, no padding to the
// longest on the CPU float32 path, which uses fused kernels).
//
// Both paths compute the same function: for the same tokens their log-probs agree to float
// rounding (tests/model/decoder_test.cc checks 1e-5).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace ponder::model {

class KvCache;
namespace internal {
class DecoderLayerImpl;
class LinearImpl;
class RmsNormImpl;
}  // namespace internal

// How the tokens of a padded or packed training batch relate. All tensors are [B, T] on the
// model's device (or CPU); any may be left undefined.
struct BatchLayout {
  // 1 (true) for real tokens, 0 for padding (left or right). Undefined: all real. Padding
  // tokens attend to nothing but themselves and nothing attends to them.
  at::Tensor attention_mask;
  // Packed sequences: a token attends only to earlier tokens with the same segment id.
  // Undefined: one sequence per row.
  at::Tensor segment_ids;
  // RoPE positions. Undefined: each real token's index among the real tokens of its segment
  // (0 for the first), as transformers derives them from the attention mask.
  at::Tensor position_ids;
};

// Several responses to the same prompt, for the training path: each prompt runs once, and
// each response attends to its prompt's keys and values and then its own, as if the two were
// one sequence (GRPO-style groups of samples per prompt spend most of their prompt tokens
// again otherwise). Right-padded.
struct SharedPromptBatch {
  at::Tensor prompt_ids;       // [G, P] integer
  at::Tensor prompt_mask;      // [G, P]: 1 for real tokens; each prompt has at least one
  at::Tensor response_ids;     // [N, R] integer: what follows the prompt
  at::Tensor response_mask;    // [N, R]: 1 for real tokens
  at::Tensor response_prompt;  // [N] integer: the prompt row (0..G-1) of each response
};

struct TokenStatsOptions {
  bool entropy = true;          // also compute the entropy of each next-token distribution
  int64_t chunk_tokens = 1024;  // tokens per vocabulary-sized chunk
  // Keep the [tokens x vocab] log-probs for the backward when they fit in this many bytes
  // (saves recomputing the logits); above it, only a chunk at a time exists.
  int64_t keep_logits_bytes = int64_t{256} << 20;
};

struct TokenStats {
  at::Tensor log_probs;  // [B, T] float32: log p(target | prefix); 0 where target < 0
  at::Tensor entropy;    // [B, T] float32 (undefined unless asked); 0 where target < 0
};

struct DecoderOptions {
  bool value_head = false;  // add value_head: Linear(hidden_size, 1), the PPO critic's output
  // Initialise weights as transformers does (normal, std 0.02; biases 0; norms 1), drawing from
  // LibTorch's global generator (seed it with torch::manual_seed). A loader that overwrites
  // every weight passes false and skips the cost.
  bool initialize = true;
};

class DecoderImpl : public torch::nn::Module {
 public:
  // `config` must be valid (ModelConfig::Validate); weights are float32 on the CPU, use
  // `to(device, dtype)` to move them.
  explicit DecoderImpl(const ModelConfig& config, const DecoderOptions& options = {});

  const ModelConfig& config() const { return config_; }
  bool has_value_head() const { return value_head_ != nullptr; }
  // The dtype the model computes in (activations, KV cache): the compute dtype when one is
  // set, else the parameters' dtype.
  c10::ScalarType dtype() const;
  // The parameters' dtype (and so their gradients' and the optimizer state's).
  c10::ScalarType param_dtype() const;
  // Mixed precision: compute in `dtype` (e.g. bfloat16) while the parameters stay in their
  // own (float32 master weights); every product casts the weights to the activations' dtype,
  // differentiably, so gradients arrive in the parameters' dtype. nullopt: compute in the
  // parameters' dtype.
  void set_compute_dtype(std::optional<c10::ScalarType> dtype);
  std::optional<c10::ScalarType> compute_dtype() const { return compute_dtype_; }
  c10::Device device() const;

  // ---- Training path ----

  // Final hidden states (after the last norm), [B, T, hidden_size], in the model's dtype.
  // `input_ids` is [B, T] integer; ids outside the vocabulary and layouts of the wrong shape are
  // InvalidArgument.
  absl::StatusOr<at::Tensor> Hidden(const at::Tensor& input_ids, const BatchLayout& layout = {});
  // Final hidden states for a SharedPromptBatch, flat: the G x P prompt positions first (row
  // by row), then the N x R response positions: [G * P + N * R, hidden_size]. Equal (up to
  // float rounding) to Hidden() on each prompt + response concatenated.
  absl::StatusOr<at::Tensor> HiddenSharedPrompts(const SharedPromptBatch& batch);
  // The full logits [B, T, vocab] float32 for `hidden` (materialises the vocabulary; for
  // tests, scoring small batches and generation).
  at::Tensor Logits(const at::Tensor& hidden);
  // Log-probs of `targets` ([B, T] integer, negative = ignore) under the next-token
  // distribution at each position, and its entropy; float32, differentiable with respect to
  // `hidden` and the LM head.
  absl::StatusOr<TokenStats> TokenLogProbs(const at::Tensor& hidden, const at::Tensor& targets,
                                           const TokenStatsOptions& options = {});
  // The value head's output [B, T] float32. FailedPrecondition without a value head.
  absl::StatusOr<at::Tensor> Values(const at::Tensor& hidden);

  // ---- Generation path ----

  // Appends `tokens[i]` to slot `slots[i]` of `cache` for every i and returns the logits of
  // the token after each slot's last new token: [slots.size(), vocab] float32. Slots must be
  // distinct and acquired, each list non-empty, ids inside the vocabulary, and every slot must
  // have room (cache.max_seq_len()); otherwise nothing is written and the Status says which.
  // Runs without autograd.
  absl::StatusOr<at::Tensor> Step(KvCache& cache, const std::vector<int64_t>& slots,
                                  const std::vector<std::vector<int32_t>>& tokens);

  // Whether Step may use the fused float32 CPU kernels (on by default; they apply only to
  // float32 weights on the CPU). Off, it runs the device-independent tensor-op path; the tests
  // compare the two.
  void set_use_cpu_kernels(bool on) { use_cpu_kernels_ = on; }

 private:
  struct RopeTables {
    at::Tensor cos, sin;  // [positions, head_dim / 2] float32
  };
  // RoPE tables covering positions [0, n), on `device` (grown on demand; thread-safe).
  RopeTables Rope(int64_t n, c10::Device device);
  // cos and sin at `positions` (integer, on the model's device): positions' shape + [1, hd/2],
  // in the model's dtype.
  std::pair<at::Tensor, at::Tensor> RopeAt(const at::Tensor& positions);
  absl::Status CheckIds(const at::Tensor& ids, const char* what) const;
  // Token embeddings in the compute dtype.
  at::Tensor Embed(const at::Tensor& ids) const;
  at::Tensor LmHeadWeight() const;

  ModelConfig config_;
  std::shared_ptr<torch::nn::Module> body_;  // "model": embed_tokens, layers, norm
  at::Tensor embed_weight_;                  // model.embed_tokens.weight
  std::vector<std::shared_ptr<internal::DecoderLayerImpl>> layers_;
  std::shared_ptr<internal::RmsNormImpl> norm_;
  std::shared_ptr<internal::LinearImpl> lm_head_;     // null when tied
  std::shared_ptr<internal::LinearImpl> value_head_;  // null without a value head
  bool use_cpu_kernels_ = true;
  std::optional<c10::ScalarType> compute_dtype_;

  std::mutex rope_mu_;
  at::Tensor rope_cos_, rope_sin_;  // float32 CPU tables
  std::vector<RopeTables> rope_on_device_;
};
TORCH_MODULE(Decoder);

// A deep copy with its own parameters (for reference policies and rollout copies), on the
// same device and dtype, with gradients off for the copy's parameters when `frozen`.
Decoder CloneDecoder(const Decoder& source, bool frozen = false);

// Copies every parameter of `source` into `target` (same config), e.g. to push trainer
// weights to a rollout copy. InvalidArgument when names or shapes differ.
absl::Status CopyWeights(const Decoder& source, Decoder& target);

}  // namespace ponder::model
