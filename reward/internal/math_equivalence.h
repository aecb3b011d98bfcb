// Whether two answers (ReadAnswer trees) are equal, the gold answer first, and if not, why.
//
// By kind:
//  - numbers: exact rational arithmetic (arbitrary size, bounded); a written decimal matches
//    a value when both round to `decimal_places` places (1/3 = 0.333333, 1/3 != 0.33);
//  - expressions: the symbolic canonical form (math_symbolic.h) decides where it can; else
//    numeric evaluation at seeded random points of both signs, which must agree at every
//    point where both are defined (at least three); the variables must be the same;
//  - relations: moved to one side, D op 0; equations and "!=" match up to a non-zero constant
//    factor, inequalities up to a positive one (x >= 5 is 5 <= x is -x <= -5); chains side by
//    side; a relation in one variable also matches its solution set (x > 5 and (5, \infty));
//    an equation whose left side is a name (x = 3, (p, q) = (3, 2), A:B = 1) labels its right
//    side, so it matches a plain 3; so does a computed equation (3 \cdot 4 = 12 matches 12);
//  - intervals and tuples in order, with the same brackets ([0, 9) != (0, 9)); sets and bare
//    lists in any order; a one-element set is its element; a tuple matches a set only with
//    `tuple_matches_set`;
//  - matrices cell by cell (a one-column or one-row matrix is a tuple); unions part by part;
//  - ratios part by part or proportionally (7:32 = 14:64), and as a quotient (7:32 = 7/32);
//  - percent: 50% equals 50 and 0.5; words case-insensitively ("Even" = \text{even}).
// Anything else, and anything that could not be decided in the budget, is "not equal" with a
// reason.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "reward/internal/math_expr.h"

namespace ponder::reward::internal {

struct EquivalenceOptions {
  double tolerance = 1e-10;  // relative, for values compared numerically
  int decimal_places = 6;    // a written decimal matches when both round to this many places
  int random_points = 8;     // for expressions with variables
  bool tuple_matches_set = false;
  uint64_t seed = 20240601;  // of the random points (fixed: verdicts are reproducible)
  absl::Time deadline = absl::InfiniteFuture();
};

struct Verdict {
  bool equal = false;
  std::string reason;  // why not, when not equal
};

Verdict Compare(const Expr& gold, const Expr& pred, const EquivalenceOptions& options);

}  // namespace ponder::reward::internal
