// Whether two parsed math answers are equal, the gold answer first (the relation is not
// symmetric: a gold "x = 3" accepts "3", and so does a gold "3" accept "x = 3"; a gold word
// accepts only that word).
//
// Scalars: exact rational arithmetic where both sides are rational (integers, decimals,
// fractions, mixed numbers, powers with integer exponents, perfect roots); else evaluation in
// complex long double (sqrt, pi, e, i, logs, trig) with a relative tolerance; expressions
// with variables are evaluated at seeded random points and must agree at every point
// (same variables on both sides). A decimal written by the model is compared with the looser
// `decimal_tolerance` (0.333333 matches 1/3, 0.33 does not).
// Structures: tuples and intervals compare in order with the same brackets ((1,2) != (2,1),
// [0,1) != [0,1]); sets and bare lists ("3, 5, 7") compare as multisets; a one-element set
// equals its element; matrices cell by cell (a one-column matrix equals a tuple); unions part
// by part; relations side by side (also mirrored: x > 2 equals 2 < x), and equations also
// when one is a non-zero multiple of the other; a \pm b is the set {a+b, a-b}; a percent
// equals its number and its number / 100.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "reward/internal/math_expr.h"

namespace ponder::reward::internal {

struct EquivalenceOptions {
  double tolerance = 1e-9;          // relative, for non-rational values
  double decimal_tolerance = 1e-6;  // relative, when either side has a decimal number
  int random_points = 8;            // for expressions with variables
  uint64_t seed = 20240601;         // of the random points (fixed: verdicts are reproducible)
  absl::Time deadline = absl::InfiniteFuture();
};

bool Equivalent(const Expr& gold, const Expr& pred, const EquivalenceOptions& options);

}  // namespace ponder::reward::internal
