// Fused float32 CPU kernels for the decoder's generation path (no LibTorch here: plain loops
// over raw arrays, compiled once per instruction set and picked at run time). The tensor-op
// path in decoder.cc computes the same functions and is what the tests compare these against.
//
// Work is split into independent items numbered [begin, end) so the caller can spread them
// over threads (model/parallel.h).
#pragma once

#include <cstdint>

namespace ponder::model::internal {

// Attention of new tokens ("rows") over a paged key/value cache (model/kv_cache.h).
struct CachedAttentionArgs {
  const float* q = nullptr;                    // [rows, num_heads, head_dim]
  const float* k = nullptr;                    // cache keys   [pool rows, num_kv_heads, head_dim]
  const float* v = nullptr;                    // cache values [pool rows, num_kv_heads, head_dim]
  float* out = nullptr;                        // [rows, num_heads, head_dim]
  const int32_t* const* row_blocks = nullptr;  // block table of each row's sequence
  const int64_t* row_pos = nullptr;            // position of each row: it attends to keys 0..pos
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 0;  // position t is pool row row_blocks[t / block_size] * block_size + ...
  float scale = 1.0f;      // applied to q.k
};
// Items are (row, kv head) pairs: item = row * num_kv_heads + kv_head. The query heads that
// share a kv head are done together so each key and value is read once.
void CachedAttention(const CachedAttentionArgs& args, int64_t begin, int64_t end);
// The same in plain loops (what machines without AVX2 + FMA run); the tests compare the two.
void CachedAttentionPlain(const CachedAttentionArgs& args, int64_t begin, int64_t end);

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for rows [begin, end) of width n.
void RmsNorm(const float* x, const float* weight, float* out, int64_t n, float eps, int64_t begin,
             int64_t end);

// Rotates the halves of each head of rows [begin, end) in place (transformers' rotate_half
// RoPE): x = [x1, x2] -> [x1 cos - x2 sin, x2 cos + x1 sin], angle = pos * inv_freq[i].
// `cos`/`sin` are tables [max_pos, head_dim / 2]; `x` is [rows, heads, head_dim].
void ApplyRope(float* x, const int64_t* row_pos, const float* cos, const float* sin, int64_t heads,
               int64_t head_dim, int64_t begin, int64_t end);

// out[i] = silu(gate[i]) * up[i] for rows [begin, end); all three are [rows, n].
void SiluMul(const float* gate, const float* up, float* out, int64_t n, int64_t begin, int64_t end);

// y[m, o] = x[m] . w[o] (+ bias[o]) for all rows m < rows and outputs o in [begin, end):
// x [rows, in], w [out, in] (a Linear weight), y [rows, out]. Streams each weight row once
// for all rows of x; meant for the few rows of a decode step, where BLAS's GEMM is slow.
void SmallMatmul(const float* x, int64_t rows, const float* w, const float* bias, float* y,
                 int64_t in, int64_t out, int64_t begin, int64_t end);

}  // namespace ponder::model::internal
