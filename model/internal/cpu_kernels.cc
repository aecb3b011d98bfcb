#include "model/internal/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/vec_math.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PONDER_ATTENTION_AVX2 1
#endif

#define PONDER_INLINE inline __attribute__((always_inline))

// Each kernel's body is compiled twice, for AVX2 + FMA and for baseline x86-64, and each call
// runs the one the CPU supports, chosen by its features. (GCC's target_clones("arch=haswell")
// dispatches on the CPU model instead, and so runs the baseline on AMD's AVX2 processors.)
#ifdef PONDER_ATTENTION_AVX2
#define PONDER_KERNEL(name, params, args)                                         \
  namespace {                                                                     \
  __attribute__((target("avx2,fma"))) void name##Avx2 params { name##Body args; } \
  void name##Base params { name##Body args; }                                     \
  }                                                                               \
  void name params {                                                              \
    if (HasAvx2()) {                                                              \
      name##Avx2 args;                                                            \
    } else {                                                                      \
      name##Base args;                                                            \
    }                                                                             \
  }
#else
#define PONDER_KERNEL(name, params, args) \
  void name params { name##Body args; }
#endif

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

#ifdef PONDER_ATTENTION_AVX2
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

__attribute__((target("avx2,fma"))) inline float Sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// CachedAttention for head_dim a multiple of 8: q.k with two vector accumulators per score,
// and p.v accumulated in registers, 64 dimensions of one query head at a time.
__attribute__((target("avx2,fma"))) void CachedAttentionAvx2(const CachedAttentionArgs& a,
                                                             int64_t begin, int64_t end) {
  const int64_t hd = a.head_dim, kvh = a.num_kv_heads, bs = a.block_size;
  const int64_t rep = a.num_heads / kvh;
  const int64_t t_stride = kvh * hd;
  std::vector<float> scores;
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
        for (int64_t r = 0; r < rep; ++r) {
          const float* qr = q + r * hd;
          __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
          int64_t d = 0;
          for (; d + 16 <= hd; d += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(qr + d), _mm256_loadu_ps(kt + d), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(qr + d + 8), _mm256_loadu_ps(kt + d + 8), s1);
          }
          if (d < hd) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(qr + d), _mm256_loadu_ps(kt + d), s0);
          scores[r * len + t0 + j] = Sum8(_mm256_add_ps(s0, s1));
        }
      }
    }
    for (int64_t r = 0; r < rep; ++r) {
      float* s = scores.data() + r * len;
      const float m = MaxOf(s, len);
      const float inv = 1.0f / ExpSum(s, len, a.scale, m * a.scale, s);
      const __m256 scale = _mm256_set1_ps(inv);
      int64_t d0 = 0;
      for (; d0 + 64 <= hd; d0 += 64) {
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
               c7 = c0;
        for (int64_t t0 = 0; t0 < len; t0 += bs) {
          const float* vb = a.v + (blocks[t0 / bs] * bs * kvh + g) * hd + d0;
          const int64_t n = std::min(bs, len - t0);
          for (int64_t j = 0; j < n; ++j) {
            const __m256 p = _mm256_set1_ps(s[t0 + j]);
            const float* vt = vb + j * t_stride;
            c0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt), c0);
            c1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 8), c1);
            c2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 16), c2);
            c3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 24), c3);
            c4 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 32), c4);
            c5 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 40), c5);
            c6 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 48), c6);
            c7 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vt + 56), c7);
          }
        }
        float* o = out + r * hd + d0;
        _mm256_storeu_ps(o, _mm256_mul_ps(c0, scale));
        _mm256_storeu_ps(o + 8, _mm256_mul_ps(c1, scale));
        _mm256_storeu_ps(o + 16, _mm256_mul_ps(c2, scale));
        _mm256_storeu_ps(o + 24, _mm256_mul_ps(c3, scale));
        _mm256_storeu_ps(o + 32, _mm256_mul_ps(c4, scale));
        _mm256_storeu_ps(o + 40, _mm256_mul_ps(c5, scale));
        _mm256_storeu_ps(o + 48, _mm256_mul_ps(c6, scale));
        _mm256_storeu_ps(o + 56, _mm256_mul_ps(c7, scale));
      }
      for (; d0 < hd; d0 += 8) {  // head_dim not a multiple of 64: 8 dimensions at a time
        __m256 c = _mm256_setzero_ps();
        for (int64_t t0 = 0; t0 < len; t0 += bs) {
          const float* vb = a.v + (blocks[t0 / bs] * bs * kvh + g) * hd + d0;
          const int64_t n = std::min(bs, len - t0);
          for (int64_t j = 0; j < n; ++j) {
            c = _mm256_fmadd_ps(_mm256_set1_ps(s[t0 + j]), _mm256_loadu_ps(vb + j * t_stride), c);
          }
        }
        _mm256_storeu_ps(out + r * hd + d0, _mm256_mul_ps(c, scale));
      }
    }
  }
}
#endif

PONDER_INLINE void CachedAttentionPlainBody(const CachedAttentionArgs& a, int64_t begin,
                                            int64_t end) {
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

PONDER_INLINE void RmsNormBody(const float* x, const float* weight, float* out, int64_t n,
                               float eps, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    const float inv = 1.0f / std::sqrt(Dot(xr, xr, n) / static_cast<float>(n) + eps);
    for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * inv * weight[i];
  }
}

PONDER_INLINE void ApplyRopeBody(float* x, const int64_t* row_pos, const float* cos,
                                 const float* sin, int64_t heads, int64_t head_dim, int64_t begin,
                                 int64_t end) {
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

PONDER_INLINE void SiluMulBody(const float* gate, const float* up, float* out, int64_t n,
                               int64_t begin, int64_t end) {
  // exp(-g) by the vectorised exp first (into out), then the rest in one pass.
  const int64_t first = begin * n, count = (end - begin) * n;
  ExpSum(gate + first, count, -1.0f, 0.0f, out + first);
  for (int64_t i = first; i < first + count; ++i) out[i] = gate[i] / (1.0f + out[i]) * up[i];
}

PONDER_INLINE void SmallMatmulBody(const float* x, int64_t rows, const float* w, const float* bias,
                                   float* y, int64_t in, int64_t out, int64_t begin, int64_t end) {
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

}  // namespace

PONDER_KERNEL(CachedAttentionPlain, (const CachedAttentionArgs& a, int64_t begin, int64_t end),
              (a, begin, end))
PONDER_KERNEL(RmsNorm,
              (const float* x, const float* weight, float* out, int64_t n, float eps, int64_t begin,
               int64_t end),
              (x, weight, out, n, eps, begin, end))
PONDER_KERNEL(ApplyRope,
              (float* x, const int64_t* row_pos, const float* cos, const float* sin, int64_t heads,
               int64_t head_dim, int64_t begin, int64_t end),
              (x, row_pos, cos, sin, heads, head_dim, begin, end))
PONDER_KERNEL(SiluMul,
              (const float* gate, const float* up, float* out, int64_t n, int64_t begin,
               int64_t end),
              (gate, up, out, n, begin, end))
PONDER_KERNEL(SmallMatmul,
              (const float* x, int64_t rows, const float* w, const float* bias, float* y,
               int64_t in, int64_t out, int64_t begin, int64_t end),
              (x, rows, w, bias, y, in, out, begin, end))

void CachedAttention(const CachedAttentionArgs& a, int64_t begin, int64_t end) {
#ifdef PONDER_ATTENTION_AVX2
  if (HasAvx2() && a.head_dim % 8 == 0) return CachedAttentionAvx2(a, begin, end);
#endif
  CachedAttentionPlain(a, begin, end);
}

}  // namespace ponder::model::internal
