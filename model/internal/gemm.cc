#include "model/internal/gemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PONDER_GEMM_AVX2 1
#endif

namespace ponder::model::internal {
namespace {

// Weight rows per micro-kernel call (6 x 2 accumulators + 2 loaded x vectors + a broadcast
// fill 15 of AVX2's 16 registers).
constexpr int64_t kRowsPerTile = 6;

// tile[i][m] = w[i] . x[m] over `in`, for i < NR weight rows and the 16 rows of one panel.
template <int NR>
void TilePlain(const float* panel, const float* w, int64_t in, const float* /*prefetch*/,
               float* tile) {
  float c[NR][kGemmPanel] = {};
  for (int64_t k = 0; k < in; ++k) {
    const float* p = panel + k * kGemmPanel;
    for (int i = 0; i < NR; ++i) {
      const float a = w[i * in + k];
      for (int64_t m = 0; m < kGemmPanel; ++m) c[i][m] += a * p[m];
    }
  }
  std::memcpy(tile, c, sizeof(c));
}

#ifdef PONDER_GEMM_AVX2
// The same for 6 weight rows (rows past NR repeat the last valid one; their sums are unused).
// Written out by hand: GCC keeps arrays of vectors in memory across iterations.
template <int NR>
__attribute__((target("avx2,fma"))) void TileAvx2(const float* panel, const float* w, int64_t in,
                                                  const float* prefetch, float* tile) {
  const float* w0 = w;
  const float* w1 = w + std::min(1, NR - 1) * in;
  const float* w2 = w + std::min(2, NR - 1) * in;
  const float* w3 = w + std::min(3, NR - 1) * in;
  const float* w4 = w + std::min(4, NR - 1) * in;
  const float* w5 = w + std::min(5, NR - 1) * in;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < in; ++k) {
    if (prefetch != nullptr)
      _mm_prefetch(reinterpret_cast<const char*>(prefetch + 6 * k), _MM_HINT_T0);
    const __m256 b0 = _mm256_load_ps(panel + k * kGemmPanel);
    const __m256 b1 = _mm256_load_ps(panel + k * kGemmPanel + 8);
    __m256 a = _mm256_broadcast_ss(w0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(w1 + k);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(w2 + k);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(w3 + k);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(w4 + k);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(w5 + k);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  const __m256 c[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int i = 0; i < NR; ++i) {
    _mm256_storeu_ps(tile + i * kGemmPanel, c[2 * i]);
    _mm256_storeu_ps(tile + i * kGemmPanel + 8, c[2 * i + 1]);
  }
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

using TileFn = void (*)(const float*, const float*, int64_t, const float*, float*);

TileFn Tile(int64_t nr) {
#ifdef PONDER_GEMM_AVX2
  if (HasAvx2()) {
    static constexpr TileFn kAvx2[] = {nullptr,     TileAvx2<1>, TileAvx2<2>, TileAvx2<3>,
                                       TileAvx2<4>, TileAvx2<5>, TileAvx2<6>};
    return kAvx2[nr];
  }
#endif
  static constexpr TileFn kPlain[] = {nullptr,      TilePlain<1>, TilePlain<2>, TilePlain<3>,
                                      TilePlain<4>, TilePlain<5>, TilePlain<6>};
  return kPlain[nr];
}

}  // namespace

void PackRows(const float* x, int64_t rows, int64_t in, float* packed) {
  for (int64_t p = 0; p * kGemmPanel < rows; ++p) {
    float* dst = packed + p * kGemmPanel * in;
    const int64_t m0 = p * kGemmPanel, mr = std::min(kGemmPanel, rows - m0);
    if (mr < kGemmPanel) std::fill(dst, dst + kGemmPanel * in, 0.0f);
    for (int64_t m = 0; m < mr; ++m) {
      const float* src = x + (m0 + m) * in;
      for (int64_t k = 0; k < in; ++k) dst[k * kGemmPanel + m] = src[k];
    }
  }
}

void GemmPacked(const float* packed, int64_t rows, const float* w, const float* bias, float* y,
                int64_t in, int64_t out, int64_t begin, int64_t end) {
  alignas(32) float tile[kRowsPerTile * kGemmPanel];
  const int64_t panels = (rows + kGemmPanel - 1) / kGemmPanel;
  for (int64_t o = begin; o < end; o += kRowsPerTile) {
    const int64_t nr = std::min(kRowsPerTile, end - o);
    const TileFn fn = Tile(nr);
    for (int64_t p = 0; p < panels; ++p) {
      // The first pass over a tile's weights brings in the next tile's (contiguous rows).
      const float* next =
          p == 0 && o + 2 * kRowsPerTile <= end ? w + (o + kRowsPerTile) * in : nullptr;
      fn(packed + p * kGemmPanel * in, w + o * in, in, next, tile);
      const int64_t m0 = p * kGemmPanel, mr = std::min(kGemmPanel, rows - m0);
      for (int64_t m = 0; m < mr; ++m) {
        float* yr = y + (m0 + m) * out + o;
        for (int64_t i = 0; i < nr; ++i) {
          yr[i] = tile[i * kGemmPanel + m] + (bias != nullptr ? bias[o + i] : 0.0f);
        }
      }
    }
  }
}

}  // namespace ponder::model::internal
