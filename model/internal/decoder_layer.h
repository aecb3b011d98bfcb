// The decoder's building blocks, shared by its training path (decoder.cc) and its generation
// path (decoder_step.cc): Linear, RMSNorm, one decoder layer, and what a Step call passes to
// every layer.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/model_config.h"

namespace ponder::model {
class KvCache;
}

namespace ponder::model::internal {

class LinearImpl;

// c10::Error -> Status, at the edge of the module's API.
template <typename F>
auto Guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what_without_backtrace()));
  }
}

// y = x w^T (+ b) for float32 CPU tensors, x [rows, in] contiguous: few rows stream the
// weights (SmallMatmul), more rows run the packed GEMM (gemm.h); threads are LibTorch's.
at::Tensor CpuLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
// Several Linears of the same input at once (q/k/v, gate/up): x is packed once and the
// outputs of all of them are split over the threads in one parallel region.
std::vector<at::Tensor> CpuLinears(const at::Tensor& x,
                                   const std::vector<const LinearImpl*>& linears);

// y = x W^T (+ b). Parameters "weight" [out, in] and, optionally, "bias" [out].
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias);
  at::Tensor forward(const at::Tensor& x) const;
  // Float32 CPU rows [rows, in] (see CpuLinear).
  at::Tensor ForwardCpu(const at::Tensor& x) const { return CpuLinear(x, weight, bias); }

  at::Tensor weight, bias;
};

// transformers' RMSNorm: computed in float32, scaled by the weight in the input's dtype.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t n, double eps);
  at::Tensor forward(const at::Tensor& x) const;
  // The fused kernel over the rows of a contiguous float32 [rows, n] tensor.
  at::Tensor ForwardCpu(const at::Tensor& x) const;

  at::Tensor weight;
  double eps;
};

// What one Step call needs in every layer.
struct StepContext {
  KvCache* cache = nullptr;
  bool fast = false;
  int64_t rows = 0;
  std::vector<int64_t> row_pos;            // host, per new token: its position in its sequence
  std::vector<int64_t> row_dst;            // host, per new token: the cache row it is written to
  std::vector<const int32_t*> row_blocks;  // host, per new token: its sequence's block table
  // Fast path: RoPE tables (float32 CPU [positions, head_dim / 2]).
  const float* cos_table = nullptr;
  const float* sin_table = nullptr;
  int64_t attention_work = 0;  // total q.k products, to decide on threads
  // Tensor-op path.
  at::Tensor dst_index;  // [rows] row_dst on the device, for the cache write
  at::Tensor cos, sin;   // [rows, head_dim / 2] in the model's dtype
  int64_t batch = 0, max_new = 0, max_len = 0;
  at::Tensor gather_index;  // [batch * max_len] cache rows of each sequence's keys
  at::Tensor pad_index;     // [rows] position of each row in the [batch * max_new] padding
  at::Tensor allowed;       // [batch, max_new, max_len] which keys each padded query sees
};

// x * cos + rotate_half(x) * sin over the last dimension; cos/sin broadcast against x's halves.
at::Tensor RotateHalf(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// Attention with grouped heads. q [B, Tq, heads, hd], k/v [B, Lk, kv_heads, hd], allowed
// [B, Tq, Lk] bool (every query must allow at least one key). Returns [B, Tq, heads * hd].
at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& allowed, double scale);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& c);

  // Training path. x [B, T, H]; cos/sin [B, T, 1, hd/2] in x's dtype; allowed [B, T, T].
  at::Tensor Forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const at::Tensor& allowed) const;
  // Training path with shared prompts (SharedPromptBatch). x [G * P + N * R, H]: prompt
  // positions, then response positions; cos/sin [G * P + N * R, 1, hd/2]; allowed_p
  // [G, P, P]; allowed_r [N, R, P + R] over the response's prompt then itself; group [N].
  at::Tensor ForwardShared(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                           const at::Tensor& allowed_p, const at::Tensor& allowed_r,
                           const at::Tensor& group) const;

  // Generation path over the flat rows of new tokens, x [rows, H]; writes this layer's keys
  // and values into the cache (decoder_step.cc).
  at::Tensor Step(const at::Tensor& x, int64_t layer, const StepContext& ctx) const {
    return ctx.fast ? StepCpu(x, layer, ctx) : StepTensors(x, layer, ctx);
  }

  ModelConfig config;
  std::shared_ptr<LinearImpl> q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  std::shared_ptr<RmsNormImpl> q_norm, k_norm, input_layernorm, post_attention_layernorm;

 private:
  at::Tensor Mlp(const at::Tensor& h) const;
  double AttentionScale() const;
  // The training-path layer over tokens x [..., H], cos/sin broadcasting against
  // [..., heads, hd/2]; `attend` takes the normed, rotated q [..., heads, hd] and k, v
  // [..., kv_heads, hd] to the attention output [..., heads * hd].
  template <typename AttendFn>
  at::Tensor Apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                   const AttendFn& attend) const;
  // The fused float32 CPU kernels, and the device-independent tensor ops.
  at::Tensor StepCpu(const at::Tensor& x, int64_t layer, const StepContext& ctx) const;
  at::Tensor StepTensors(const at::Tensor& x, int64_t layer, const StepContext& ctx) const;
};

}  // namespace ponder::model::internal
