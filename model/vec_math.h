// Vectorised float32 row helpers for softmax-like loops (the decoder's attention scores, the
// rollout engine's logits): AVX2 + FMA where the machine has them, plain loops otherwise
// (plain C++, no LibTorch). exp here is Cephes' single-precision
// polynomial (within 2 ulp of expf), so results agree with LibTorch's to float rounding.
#pragma once

#include <cstdint>

namespace ponder::model {

// The largest of x[0..n) (n > 0); NaNs are skipped unless all are NaN.
float MaxOf(const float* x, int64_t n);

// y[i] = exp(x[i] * scale - shift) for i < n (y may be x); returns the sum of the y[i].
float ExpSum(const float* x, int64_t n, float scale, float shift, float* y);

// y[i] = x[i] * scale - shift for i < n (y may be x).
void ScaleShift(const float* x, int64_t n, float scale, float shift, float* y);

// y[i] *= a for i < n.
void Scale(float* y, int64_t n, float a);

}  // namespace ponder::model
