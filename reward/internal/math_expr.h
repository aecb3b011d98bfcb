// The tree that a math answer is parsed into (reward/internal/math_parser.cc reads LaTeX-ish
// text into it): numbers (exact, arbitrary size), variables, constants, arithmetic, functions,
// relations, ratios, lists (tuples, intervals, sets), unions, matrices and words.
//
// Input to ParseMath is expected to be normalised first (NormalizeAnswer): no '$', no
// \left/\right, no spacing commands, units removed.
#pragma once

#include <gmpxx.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

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
                 // sqrt (args: radicand[, index]), log (args: x[, base]), factorial, floor,
                 // ceil, binom (args: n, k)
    kPercent,    // a % (value a/100)
    kPlusMinus,  // a \pm b (two values)
    kList,       // a bracketed or bare list: tuple, interval, set (open/close say which)
    kMatrix,     // rows: children are kList rows
    kRelation,   // children[0] op children[1] op ... (name: the operators, space-separated:
                 // "=", "<", ">", "<=", ">=", "!=", "in", "approx")
    kRatio,      // a : b : ... (also a time of day, 12:00)
    kUnion,      // a \cup b \cup ...
    kText,       // a word from \text{...} or a bare word: name
  };
  Kind kind = Kind::kNumber;
  mpq_class number;      // kNumber
  bool decimal = false;  // kNumber written with a decimal point or exponent
  std::string name;      // kSymbol, kConstant, kFunc, kText, kRelation (the operators)
  char open = 0;         // kList: '(', '[', '{' (a set), or 0 for a bare top-level list
  char close = 0;        // kList: ')', ']', '}', or 0
  std::vector<Expr> children;
};

// Builders, also used when an answer is reshaped (reward/internal/math_answer.h).
Expr MakeNumber(const mpq_class& q, bool decimal = false);
Expr MakeNamed(Expr::Kind kind, std::string name);
Expr MakeNode(Expr::Kind kind, std::vector<Expr> children);
// a op b; flattens a when it is already an `op` node (kAdd, kMul, kUnion).
Expr MakeBinary(Expr::Kind kind, Expr a, Expr b);
Expr MakeNeg(Expr a);
Expr MakeFunc(std::string name, std::vector<Expr> args);
Expr MakeList(char open, char close, std::vector<Expr> items);

// Parses a normalised answer. Errors (InvalidArgument) say what could not be read and where.
absl::StatusOr<Expr> ParseMath(std::string_view text);

// A readable rendering of the tree, for verdict reasons and test messages: "2*sqrt(3)",
// "[0, 9)", "x <= 1", "{1, 2}".
std::string ToString(const Expr& e);

// Whether the tree contains a node of `kind`.
bool Contains(const Expr& e, Expr::Kind kind);

}  // namespace ponder::reward::internal
