// Float32 matrix products for the decoder's generation path: y = x w^T (+ bias) with x the
// rows of a step [rows, in] and w a Linear weight [out, in], as plain C++ over raw arrays.
//
// Why not BLAS: the OpenBLAS that Debian's LibTorch calls keeps its own thread pool beside
// LibTorch's OpenMP pool, and a decode step alternates between the two dozens of times, so
// on a small machine they fight over the cores (threads that spin and yield, high system
// time). These kernels run in the caller's pool (ParallelFor over blocks of outputs,
// model/parallel.h), so the process has one pool and N threads use N cores.
//
// The product is computed as (w x^T)^T: the rows of x are packed once per call into panels
// of 16 ([K][16], zero-padded), and a register-blocked kernel multiplies 6 weight rows by one
// panel at a time (12 AVX2 accumulators), with each weight row read from memory once per call.
// Machines without AVX2 + FMA run the same blocking in plain loops.
#pragma once

#include <cstdint>

namespace ponder::model::internal {

// Rows of x per packed panel.
constexpr int64_t kGemmPanel = 16;

// Floats PackRows writes for `rows` x `in`: ceil(rows / 16) panels of in x 16.
inline int64_t PackedRowsSize(int64_t rows, int64_t in) {
  return (rows + kGemmPanel - 1) / kGemmPanel * kGemmPanel * in;
}

// Packs x [rows, in] (row-major) into `packed` (PackedRowsSize floats, 32-byte aligned).
void PackRows(const float* x, int64_t rows, int64_t in, float* packed);

// y[m, o] = x[m] . w[o] (+ bias[o]) for every row m < rows and outputs o in [begin, end),
// from x packed by PackRows; y is [rows, out] row-major. Disjoint [begin, end) ranges may run
// on different threads.
void GemmPacked(const float* packed, int64_t rows, const float* w, const float* bias, float* y,
                int64_t in, int64_t out, int64_t begin, int64_t end);

}  // namespace ponder::model::internal
