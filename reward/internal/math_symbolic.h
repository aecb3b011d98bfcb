// Symbolic comparison of scalar expressions through a canonical form: a quotient of two
// polynomials with exact rational coefficients over "atoms" with rational exponents:
//   - variables (x, y_1, \alpha), pi and e, taken as independent transcendentals;
//   - primes under roots: \sqrt{12} = 2 * 3^{1/2}, \sqrt[3]{16} = 2 * 2^{1/3} (the fractional
//     part of a prime's exponent stays in [0, 1), so radicals of rationals are canonical);
//   - i, with i^2 = -1;
//   - opaque atoms for everything else (sin(x), \sqrt{x^2 + 1}, log 3), keyed by the canonical
//     form of their arguments, so sin(x/2 + x/2) and sin(x) are the same atom.
// Two expressions are equal when a*d - b*c expands to 0 for their forms a/b and c/d; they are
// certainly different when it is a non-zero polynomial without opaque atoms (products of
// distinct prime radicals are linearly independent over the rationals); otherwise the form
// cannot decide, and the caller evaluates at random points.
//
// Only identities that hold for every value of the variables are used: (x^2)^{1/2} stays an
// opaque atom (it is |x|), x^{1/2} * x^{1/2} = x. Sizes are bounded (terms, exponents, bits);
// past the bounds the form gives up (kUnknown).
#pragma once

#include "reward/internal/math_expr.h"

namespace ponder::reward::internal {

enum class SymbolicVerdict { kEqual, kDifferent, kUnknown };

// Whether gold - pred is zero. Both must be scalar trees (IsScalar).
SymbolicVerdict CompareSymbolic(const Expr& gold, const Expr& pred);

// Whether lhs_g - rhs_g == c * (lhs_p - rhs_p) for a constant c; kEqual carries c's sign in
// `sign` (+1 / -1). Used for relations: equations up to a non-zero factor, inequalities up
// to a positive one.
SymbolicVerdict CompareProportional(const Expr& gold_difference, const Expr& pred_difference,
                                    int* sign);

}  // namespace ponder::reward::internal
