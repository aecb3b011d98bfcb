#include "model/internal/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/vec_math.h"

// Each kernel is compiled for AVX-512, AVX2+FMA and baseline x86-64, chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define PONDER_MULTIVERSION \
  __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define PONDER_MULTIVERSION
#endif
#define PONDER_INLINE inline __attribute__((always_inline))

namespace ponder::model::internal {
namespace {

// Sixteen independent partial sums, so the compiler can keep them in vector registers.
PONDER_INLINE float Dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; j < 8; ++j) acc[j] += acc[j + 8];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

PONDER_INLINE void Axpy(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

PONDER_MULTIVERSION
void CachedAttention(const CachedAttentionArgs& a, int64_t begin, int64_t end) {
  const int64_t hd = a.head_dim, kvh = a.num_kv_heads, bs = a.block_size;
  const int64_t rep = a.num_heads / kvh;
  const int64_t t_stride = kvh * hd;
  std::vector<float> scores, inv(static_cast<size_t>(rep));
  for (int64_t item = begin; item < end; ++item) {
    const int64_t row = item / kvh, g = item % kvh;
    const int32_t* blocks = a.row_blocks[row];
    const int64_t len = a.row_pos[row] + 1;
    const float* q = a.q + (row * a.num_heads + g * rep) * hd;
    float* out = a.out + (row * a.num_heads + g * rep) * hd;
    scores.resize(static_cast<size_t>(rep * len));
    for (int64_t t0 = 0; t0 < len; t0 += bs) {
      const float* kb = a.k + (blocks[t0 / bs] * bs * kvh + g) * hd;
      const int64_t n = std::min(bs, len - t0);
      for (int64_t j = 0; j < n; ++j) {
        const float* kt = kb + j * t_stride;
        for (int64_t r = 0; r < rep; ++r) scores[r * len + t0 + j] = Dot(q + r * hd, kt, hd);
      }
    }
    for (int64_t r = 0; r < rep; ++r) {
      float* s = scores.data() + r * len;
      const float m = MaxOf(s, len);
      inv[r] = 1.0f / ExpSum(s, len, a.scale, m * a.scale, s);
      std::fill(out + r * hd, out + (r + 1) * hd, 0.0f);
    }
    for (int64_t t0 = 0; t0 < len; t0 += bs) {
      const float* vb = a.v + (blocks[t0 / bs] * bs * kvh + g) * hd;
      const int64_t n = std::min(bs, len - t0);
      for (int64_t j = 0; j < n; ++j) {
        const float* vt = vb + j * t_stride;
        for (int64_t r = 0; r < rep; ++r) Axpy(out + r * hd, scores[r * len + t0 + j], vt, hd);
      }
    }
    for (int64_t r = 0; r < rep; ++r) {
      for (int64_t i = 0; i < hd; ++i) out[r * hd + i] *= inv[r];
    }
  }
}

PONDER_MULTIVERSION
void RmsNorm(const float* x, const float* weight, float* out, int64_t n, float eps, int64_t begin,
             int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    const float inv = 1.0f / std::sqrt(Dot(xr, xr, n) / static_cast<float>(n) + eps);
    for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * inv * weight[i];
  }
}

PONDER_MULTIVERSION
void ApplyRope(float* x, const int64_t* row_pos, const float* cos, const float* sin, int64_t heads,
               int64_t head_dim, int64_t begin, int64_t end) {
  const int64_t half = head_dim / 2;
  for (int64_t r = begin; r < end; ++r) {
    const float* c = cos + row_pos[r] * half;
    const float* s = sin + row_pos[r] * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* x1 = x + (r * heads + h) * head_dim;
      float* x2 = x1 + half;
      for (int64_t i = 0; i < half; ++i) {
        const float a = x1[i], b = x2[i];
        x1[i] = a * c[i] - b * s[i];
        x2[i] = b * c[i] + a * s[i];
      }
    }
  }
}

PONDER_MULTIVERSION
void SiluMul(const float* gate, const float* up, float* out, int64_t n, int64_t begin,
             int64_t end) {
  for (int64_t i = begin * n; i < end * n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

PONDER_MULTIVERSION
void SmallMatmul(const float* x, int64_t rows, const float* w, const float* bias, float* y,
                 int64_t in, int64_t out, int64_t begin, int64_t end) {
  for (int64_t o = begin; o < end; ++o) {
    const float* wo = w + o * in;
    const float b = bias != nullptr ? bias[o] : 0.0f;
    int64_t m = 0;
    // Four rows at a time: each loaded weight feeds four products.
    for (; m + 4 <= rows; m += 4) {
      const float* x0 = x + m * in;
      const float* x1 = x0 + in;
      const float* x2 = x1 + in;
      const float* x3 = x2 + in;
      float a0[16] = {}, a1[16] = {}, a2[16] = {}, a3[16] = {};
      int64_t i = 0;
      for (; i + 16 <= in; i += 16) {
        for (int j = 0; j < 16; ++j) {
          const float wv = wo[i + j];
          a0[j] += x0[i + j] * wv;
          a1[j] += x1[i + j] * wv;
          a2[j] += x2[i + j] * wv;
          a3[j] += x3[i + j] * wv;
        }
      }
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int j = 0; j < 16; ++j) {
        s0 += a0[j];
        s1 += a1[j];
        s2 += a2[j];
        s3 += a3[j];
      }
      for (; i < in; ++i) {
        s0 += x0[i] * wo[i];
        s1 += x1[i] * wo[i];
        s2 += x2[i] * wo[i];
        s3 += x3[i] * wo[i];
      }
      y[m * out + o] = s0 + b;
      y[(m + 1) * out + o] = s1 + b;
      y[(m + 2) * out + o] = s2 + b;
      y[(m + 3) * out + o] = s3 + b;
    }
    for (; m < rows; ++m) y[m * out + o] = Dot(x + m * in, wo, in) + b;
  }
}

}  // namespace ponder::model::internal
