// A small parser for the LaTeX-ish math that answers are written in: numbers (integers,
// decimals, thousands separators, scientific notation, base subscripts such as 204_5), \frac,
// \sqrt, powers, implicit multiplication, mixed numbers (2\frac{1}{2}), \pi, e, i, \infty,
// functions (\sin, \log_2 ...), factorials, percent, \pm, tuples, intervals, sets, unions,
// matrices, relations (x = 3, x \le 2, x \in [0,1]) and \text{...} words.
//
// Input is expected to be normalised first (NormalizeAnswer): no '$', no \left/\right,
// no spacing commands, units removed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "reward/internal/rational.h"

namespace ponder::reward::internal {

struct Expr {
  enum class Kind {
    kNumber,     // number (exact), decimal says whether it was written with a point
    kSymbol,     // a variable: name ("x", "x_1", "\alpha")
    kConstant,   // name: "pi", "e", "i", "inf"
    kNeg,        // -a
    kAdd,        // a + b + ...
    kMul,        // a * b * ...
    kDiv,        // a / b
    kPow,        // a ^ b
    kFunc,       // name(args): sin, cos, tan, sec, csc, cot, arcsin, ..., ln, log, exp, abs,
                 // sqrt (args: radicand[, index]), log (args: x[, base]), factorial
    kPercent,    // a % (value a/100)
    kPlusMinus,  // a \pm b (two values)
    kList,       // a bracketed or bare list: tuple, interval, set (open/close say which)
    kMatrix,     // rows: children are kList rows
    kRelation,   // children[0] op children[1] (op: "=", "<", ">", "<=", ">=", "!=", "in")
    kUnion,      // a \cup b \cup ...
    kText,       // a word from \text{...} or a bare word: name
  };
  Kind kind = Kind::kNumber;
  Rational number;
  bool decimal = false;  // kNumber written with a decimal point or exponent
  std::string name;      // kSymbol, kConstant, kFunc, kText, kRelation (the operator)
  char open = 0;         // kList: '(', '[', '{' (a set), or 0 for a bare top-level list
  char close = 0;        // kList: ')', ']', '}', or 0
  std::vector<Expr> children;
};

// Parses a normalised answer. Errors (InvalidArgument) say what could not be read and where.
absl::StatusOr<Expr> ParseMath(std::string_view text);

// A readable rendering of the tree, for details and test messages.
std::string ToString(const Expr& e);

}  // namespace ponder::reward::internal
