// The generation path's plain-C++ kernels against float64 references computed here: the
// packed GEMM over shapes that exercise every remainder (rows past a panel of 16, outputs past
// a tile of 6, split output ranges), attention through block tables, and the vectorised exp,
// sum and max.
#include "model/internal/cpu_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "model/internal/gemm.h"
#include "model/vec_math.h"

namespace ponder::model::internal {
namespace {

using model::ExpSum;
using model::MaxOf;

std::vector<float> Random(int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

TEST(GemmTest, PackedProductMatchesAFloat64Reference) {
  struct Case {
    int64_t rows, in, out;
  };
  const std::vector<Case> cases = {{5, 8, 1},     {16, 64, 6}, {17, 64, 7},   {33, 100, 50},
                                   {64, 24, 257}, {1, 3, 13},  {130, 40, 12}, {31, 512, 19}};
  std::mt19937_64 rng(11);
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.rows << " x " << c.in << " -> " << c.out);
    const std::vector<float> x = Random(c.rows * c.in, rng), w = Random(c.out * c.in, rng);
    const std::vector<float> bias = Random(c.out, rng);
    std::vector<float> packed(static_cast<size_t>(PackedRowsSize(c.rows, c.in)) + 8);
    // 32-byte alignment, as the kernel's loads want.
    float* p = packed.data();
    while (reinterpret_cast<uintptr_t>(p) % 32 != 0) ++p;
    PackRows(x.data(), c.rows, c.in, p);
    std::vector<float> y(static_cast<size_t>(c.rows * c.out), -7.0f);
    // Two uneven output ranges, as two threads would take them.
    const int64_t split = c.out / 3;
    GemmPacked(p, c.rows, w.data(), bias.data(), y.data(), c.in, c.out, 0, split);
    GemmPacked(p, c.rows, w.data(), bias.data(), y.data(), c.in, c.out, split, c.out);
    for (int64_t m = 0; m < c.rows; ++m) {
      for (int64_t o = 0; o < c.out; ++o) {
        double want = bias[o];
        for (int64_t k = 0; k < c.in; ++k) {
          want += static_cast<double>(x[m * c.in + k]) * w[o * c.in + k];
        }
        ASSERT_NEAR(y[m * c.out + o], want, 1e-5 * std::sqrt(static_cast<double>(c.in)))
            << "row " << m << " output " << o;
      }
    }
  }
}

// Attention through block tables (blocks scattered over the pool, the last one partly used),
// both the vectorised and the plain kernel, against a float64 softmax(q.k * scale) . v.
TEST(CachedAttentionTest, BothKernelsMatchAFloat64ReferenceThroughBlockTables) {
  struct Case {
    int64_t heads, kv_heads, head_dim, block_size;
  };
  const std::vector<Case> cases = {{4, 2, 8, 4}, {8, 4, 64, 16}, {6, 2, 72, 1}, {2, 2, 128, 7}};
  std::mt19937_64 rng(5);
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.heads << "/" << c.kv_heads << " heads of " << c.head_dim
                                      << ", block " << c.block_size);
    const int64_t rows = 3, pool_blocks = 40, kvh = c.kv_heads, hd = c.head_dim;
    const std::vector<int64_t> pos = {0, 17, 33};  // each row attends to keys 0..pos
    const std::vector<float> k = Random(pool_blocks * c.block_size * kvh * hd, rng);
    const std::vector<float> v = Random(pool_blocks * c.block_size * kvh * hd, rng);
    const std::vector<float> q = Random(rows * c.heads * hd, rng);
    std::vector<std::vector<int32_t>> tables(rows);
    std::vector<const int32_t*> row_blocks;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b * c.block_size <= pos[r]; ++b) {
        tables[r].push_back(static_cast<int32_t>((r * 13 + b * 7) % pool_blocks));
      }
      row_blocks.push_back(tables[r].data());
    }
    CachedAttentionArgs args;
    args.q = q.data();
    args.k = k.data();
    args.v = v.data();
    args.row_blocks = row_blocks.data();
    args.row_pos = pos.data();
    args.num_heads = c.heads;
    args.num_kv_heads = kvh;
    args.head_dim = hd;
    args.block_size = c.block_size;
    args.scale = 0.3f;
    for (bool plain : {false, true}) {
      std::vector<float> out(static_cast<size_t>(rows * c.heads * hd), -9.0f);
      args.out = out.data();
      if (plain) {
        CachedAttentionPlain(args, 0, rows * kvh);
      } else {
        CachedAttention(args, 0, rows * kvh);
      }
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t h = 0; h < c.heads; ++h) {
          const int64_t g = h / (c.heads / kvh);
          auto at = [&](const std::vector<float>& cache, int64_t t, int64_t d) {
            const int64_t row = tables[r][t / c.block_size] * c.block_size + t % c.block_size;
            return static_cast<double>(cache[(row * kvh + g) * hd + d]);
          };
          std::vector<double> w(static_cast<size_t>(pos[r] + 1));
          double m = -1e300, sum = 0;
          for (int64_t t = 0; t <= pos[r]; ++t) {
            double dot = 0;
            for (int64_t d = 0; d < hd; ++d) dot += q[(r * c.heads + h) * hd + d] * at(k, t, d);
            w[t] = dot * 0.3;
            m = std::max(m, w[t]);
          }
          for (double& x : w) sum += (x = std::exp(x - m));
          for (int64_t d = 0; d < hd; ++d) {
            double want = 0;
            for (int64_t t = 0; t <= pos[r]; ++t) want += w[t] / sum * at(v, t, d);
            ASSERT_NEAR(out[(r * c.heads + h) * hd + d], want, 1e-5)
                << (plain ? "plain" : "vectorised") << " row " << r << " head " << h;
          }
        }
      }
    }
  }
}

TEST(VecMathTest, ExpSumAndMaxMatchTheLibrary) {
  std::vector<float> x;
  for (float v = -100.0f; v <= 90.0f; v += 0.37f) x.push_back(v);
  std::vector<float> y(x.size());
  const float scale = 0.5f, shift = 3.0f;
  const float sum = ExpSum(x.data(), static_cast<int64_t>(x.size()), scale, shift, y.data());
  double want_sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double arg = static_cast<double>(x[i]) * scale - shift;
    const double want = std::exp(arg);
    // Within 2 ulp of the exact exp of the argument as a float (rounded once, 6e-8 relative).
    if (arg > -87.0) {
      EXPECT_NEAR(y[i], want, want * (2.4e-7 + 6e-8 * std::abs(arg))) << x[i];
    }
    want_sum += want;
  }
  EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum);
  EXPECT_EQ(MaxOf(x.data(), static_cast<int64_t>(x.size())), x.back());
  // NaNs are skipped; a row of NaNs has a NaN maximum; -inf rows have -inf.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> mixed(21, -5.0f);
  mixed[3] = nan;
  mixed[17] = 2.0f;
  EXPECT_EQ(MaxOf(mixed.data(), 21), 2.0f);
  std::vector<float> nans(11, nan), ninf(11, -inf);
  EXPECT_TRUE(std::isnan(MaxOf(nans.data(), 11)));
  EXPECT_EQ(MaxOf(ninf.data(), 11), -inf);
  float e[9] = {nan, 0, 0, 0, 0, 0, 0, 0, 0};
  ExpSum(e, 9, 1.0f, 0.0f, e);
  EXPECT_TRUE(std::isnan(e[0]));
  EXPECT_EQ(e[1], 1.0f);
}

}  // namespace
}  // namespace ponder::model::internal
