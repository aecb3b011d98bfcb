// The value of a scalar expression at a point: exact (a rational of bounded size) where every
// step is rational, else approximate in complex long double, or +-infinity.
//
// Conventions: an odd root of a negative real is the real root ((-8)^{1/3} = -2, also for
// x^{2/3} at a negative x); other powers use the principal branch; sqrt, log and the inverse
// trigonometric functions are principal too. 0/0, poles, inf - inf, overflow and anything
// that is not a scalar (a list, a relation, a word) have no value.
#pragma once

#include <gmpxx.h>

#include <complex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reward/internal/math_expr.h"

namespace ponder::reward::internal {

using Complex = std::complex<long double>;

// Exact values stop being exact past this size (and are then approximated).
constexpr size_t kMaxExactBits = 20000;  // about 6,000 digits: 3^{2024} is exact

struct Value {
  std::optional<mpq_class> exact;  // when the value is a rational known exactly
  Complex z;                       // always set unless infinite
  int inf = 0;                     // +1 / -1 for +-infinity

  bool is_real() const { return inf == 0 && z.imag() == 0; }
};

// Values of the variables, by name.
struct Point {
  std::vector<std::pair<std::string, Complex>> vars;
  const Complex* Find(const std::string& name) const;
};

std::optional<Value> Evaluate(const Expr& e, const Point& at);

// Whether the tree is a scalar (no list, matrix, relation, ratio, union, word or \pm).
bool IsScalar(const Expr& e);
// Whether a written decimal (0.5, 2.5e3) appears anywhere in the tree.
bool HasDecimal(const Expr& e);

}  // namespace ponder::reward::internal
