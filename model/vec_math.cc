#include "model/vec_math.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PONDER_VEC_AVX2 1
#endif

namespace ponder::model {
namespace {

// Cephes expf: exp(x) = 2^n e^r with n = round(x / ln 2), |r| <= ln 2 / 2.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
constexpr float kExpLo = -87.0f, kExpHi = 88.0f;

float ExpScalar(float x) {
  if (std::isnan(x)) return x;
  x = x < kExpLo ? kExpLo : (x > kExpHi ? kExpHi : x);
  const float n = std::nearbyint(x * kLog2e);
  const float r = x - n * kLn2Hi - n * kLn2Lo;
  float p = kP0;
  p = p * r + kP1;
  p = p * r + kP2;
  p = p * r + kP3;
  p = p * r + kP4;
  p = p * r + kP5;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

#ifdef PONDER_VEC_AVX2
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

#define PONDER_AVX2 __attribute__((target("avx2,fma")))

PONDER_AVX2 inline __m256 Exp8(__m256 x) {
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpLo)), _mm256_set1_ps(kExpHi));
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  return _mm256_blendv_ps(y, x, nan);
}

PONDER_AVX2 inline float Sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

PONDER_AVX2 float MaxOfAvx2(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);  // NaN lanes skipped
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  float best = _mm_cvtss_f32(h);
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

PONDER_AVX2 float ExpSumAvx2(const float* x, int64_t n, float scale, float shift, float* y) {
  const __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 e0 = Exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), a, b));
    const __m256 e1 = Exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i + 8), a, b));
    _mm256_storeu_ps(y + i, e0);
    _mm256_storeu_ps(y + i + 8, e1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  float sum = Sum8(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) {
    y[i] = ExpScalar(x[i] * scale - shift);
    sum += y[i];
  }
  return sum;
}

PONDER_AVX2 void ScaleShiftAvx2(const float* x, int64_t n, float scale, float shift, float* y) {
  const __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmsub_ps(_mm256_loadu_ps(x + i), a, b));
  }
  for (; i < n; ++i) y[i] = x[i] * scale - shift;
}
#endif

}  // namespace

float MaxOf(const float* x, int64_t n) {
#ifdef PONDER_VEC_AVX2
  if (HasAvx2()) {
    const float m = MaxOfAvx2(x, n);
    if (!std::isinf(m) || m > 0) return m;
  }
#endif
  float best = -INFINITY;
  bool any = false;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (!any || x[i] > best) best = x[i];
    any = true;
  }
  return any ? best : x[0];
}

float ExpSum(const float* x, int64_t n, float scale, float shift, float* y) {
#ifdef PONDER_VEC_AVX2
  if (HasAvx2()) return ExpSumAvx2(x, n, scale, shift, y);
#endif
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = ExpScalar(x[i] * scale - shift);
    sum += y[i];
  }
  return sum;
}

void ScaleShift(const float* x, int64_t n, float scale, float shift, float* y) {
#ifdef PONDER_VEC_AVX2
  if (HasAvx2()) return ScaleShiftAvx2(x, n, scale, shift, y);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale - shift;
}

void Scale(float* y, int64_t n, float a) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace ponder::model
