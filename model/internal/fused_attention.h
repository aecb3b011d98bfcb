// Attention through LibTorch's fused kernel, at::scaled_dot_product_attention (LibTorch 2.0
// and later: flash / memory-efficient kernels on CUDA, a fused kernel on the CPU), for the
// decoder's tensor-op paths (training, and generation over gathered KV blocks). Built against
// an older LibTorch (Debian's 1.13) it is absent and the decoder keeps its explicit
// softmax(q k^T) v.
#pragma once

#include <ATen/core/Tensor.h>

namespace ponder::model::internal {

// Whether this build's LibTorch has the fused kernel.
bool HaveFusedAttention();
// Process-wide switch (on by default where the kernel exists); tests turn it off to compare
// with the explicit path.
void SetFusedAttention(bool on);
bool FusedAttentionEnabled();

// q [B, Tq, heads, hd], k/v [B, Lk, kv_heads, hd] (heads a multiple of kv_heads), allowed
// [B, Tq, Lk] bool with at least one key per query. Returns [B, Tq, heads * hd] in q's dtype.
// Call only when FusedAttentionEnabled().
at::Tensor FusedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const at::Tensor& allowed, double scale);

}  // namespace ponder::model::internal
