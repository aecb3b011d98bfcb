// A final answer as a structured value: the parsed tree of a normalised answer, reshaped so
// that the forms an answer is written in compare alike:
//   - plain words ("odd function", "Evelyn") are text;
//   - "A \approx B": the exact part A (or B, when A is only a name: "x \approx 0.58");
//     "x = \frac{\sqrt3}{3} \approx 0.577" drops the approximation;
//   - "n = 1, 2, 3" (a label on the first item of a list) is the list 1, 2, 3;
//   - \mathbb{R} is the interval (-\infty, \infty);
//   - a \pm b is the set {a + b, a - b}, and \pm 3 is {3, -3} (also inside a set or list).
// Its kind (number, expression, relation, interval, set, tuple, matrix, ratio, text) names
// it in a verdict.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "reward/internal/math_expr.h"

namespace ponder::reward::internal {

// Parses and reshapes a normalised answer (NormalizeAnswer).
absl::StatusOr<Expr> ReadAnswer(std::string_view normalized);

// "number", "expression", "relation", "interval", "set", "tuple", "matrix", "ratio", "text".
std::string KindName(const Expr& e);

// Whether `e` is only a name: a variable, a product of variables (AB), a word, or a tuple or
// ratio of names ((p, q), A:B). An equation with such a left side labels its right side.
bool IsLabel(const Expr& e);

}  // namespace ponder::reward::internal
