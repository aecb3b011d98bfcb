// Relations: labelled values (x = 3), equations and inequalities moved to one side and
// compared up to a constant factor, chains, and solution sets of relations in one variable.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "reward/internal/math_answer.h"
#include "reward/internal/math_comparer.h"
#include "reward/internal/math_symbolic.h"

namespace ponder::reward::internal {
namespace {

using Kind = Expr::Kind;

std::vector<std::string> Ops(const Expr& relation) { return absl::StrSplit(relation.name, ' '); }

bool AllOps(const Expr& relation, const char* op) {
  std::vector<std::string> ops = Ops(relation);
  return std::all_of(ops.begin(), ops.end(), [&](const std::string& o) { return o == op; });
}

bool HasSymbols(const Expr& e) {
  std::set<std::string> symbols;
  CollectSymbols(e, symbols);
  return !symbols.empty();
}

// x = 3, x = 1 + 2 = 3, (p, q) = (3, 2), x \in [0, 1): a name on the left labels the value on
// the right (the last one of a chain).
bool LabelsValue(const Expr& r) {
  if (!IsLabel(r.children[0])) return false;
  return AllOps(r, "=") || (r.name == "in" && r.children.size() == 2);
}

// An answer written as an equation, "m + n = 47" or "3 \cdot 4 = 12": its last side is the
// value (as Math-Verify reads it when the gold is not a relation).
bool IsEquation(const Expr& r) { return AllOps(r, "="); }

bool IsSetValued(const Expr& e) { return e.kind == Kind::kList || e.kind == Kind::kUnion; }

std::string Flip(const std::string& op) {
  if (op == "<") return ">";
  if (op == ">") return "<";
  if (op == "<=") return ">=";
  if (op == ">=") return "<=";
  return op;
}

// The class of a relation once moved to one side as D op 0: "=", "!=", "<" or "<=".
std::string OpClass(const std::string& op) {
  if (op == "approx") return "=";
  if (op == ">") return "<";
  if (op == ">=") return "<=";
  return op;
}

Expr Difference(const Expr& a, const Expr& b) {
  std::vector<Expr> parts;
  parts.push_back(a);
  parts.push_back(MakeNeg(b));
  return MakeNode(Kind::kAdd, std::move(parts));
}

Expr Infinity(bool negative) {
  Expr inf = MakeNamed(Kind::kConstant, "inf");
  return negative ? MakeNeg(std::move(inf)) : inf;
}

Expr Interval(char open, Expr a, Expr b, char close) {
  std::vector<Expr> ends;
  ends.push_back(std::move(a));
  ends.push_back(std::move(b));
  return MakeList(open, close, std::move(ends));
}

}  // namespace

bool Comparer::RelationEqual(const Expr& g, const Expr& p) {
  bool g_rel = g.kind == Kind::kRelation, p_rel = p.kind == Kind::kRelation;
  if (g_rel && p_rel) return RelationsEqual(g, p);
  const Expr& relation = g_rel ? g : p;
  const Expr& other = g_rel ? p : g;
  if (LabelsValue(relation) || (!g_rel && IsEquation(relation))) {
    return g_rel ? Equal(relation.children.back(), other) : Equal(other, relation.children.back());
  }
  if (IsSetValued(other)) {
    if (std::optional<Expr> set = SolutionSet(relation)) {
      return g_rel ? Equal(*set, other) : Equal(other, *set);
    }
  }
  return Fail(absl::StrCat(Describe(relation), " is a relation and ", Describe(other), " is not"));
}

bool Comparer::RelationsEqual(const Expr& g, const Expr& p) {
  // x = 1/3 and x = 0.333333: the same label, so the values compare as values.
  if (LabelsValue(g) && LabelsValue(p) && g.name == p.name &&
      ToString(g.children[0]) == ToString(p.children[0])) {
    return Equal(g.children.back(), p.children.back());
  }
  bool scalar = std::all_of(g.children.begin(), g.children.end(), IsScalar) &&
                std::all_of(p.children.begin(), p.children.end(), IsScalar);
  if (scalar && g.children.size() == p.children.size()) {
    if (ScalarRelationEqual(g, p)) return true;
  } else if (g.name == p.name && g.children.size() == p.children.size()) {
    bool all = true;
    for (size_t k = 0; k < g.children.size() && all; ++k) {
      all = Equal(g.children[k], p.children[k]);
    }
    if (all) return true;
  } else {
    Fail(absl::StrCat("the relations differ: ", ToString(g), " vs ", ToString(p)));
  }
  // Solution sets of relations in the same one variable: x \in [2, 7) and 2 <= x < 7.
  std::string first = reason_;
  std::string gv, pv;
  std::optional<Expr> gs = SolutionSet(g, &gv), ps = SolutionSet(p, &pv);
  if (gs && ps && gv == pv) return Equal(*gs, *ps);
  return Fail(first);
}

bool Comparer::ScalarRelationEqual(const Expr& g, const Expr& p) {
  std::vector<std::string> gops = Ops(g), pops = Ops(p);
  size_t n = gops.size();
  bool forward = true;
  for (size_t k = 0; k < n && forward; ++k) {
    forward = SingleRelationEqual(g.children[k], gops[k], g.children[k + 1], p.children[k], pops[k],
                                  p.children[k + 1]);
  }
  if (forward || n == 1) return forward;
  // A chain read the other way: 1 < x < 3 is 3 > x > 1.
  std::string first = reason_;
  for (size_t k = 0; k < n; ++k) {
    size_t j = n - 1 - k;
    if (!SingleRelationEqual(g.children[k], gops[k], g.children[k + 1], p.children[j + 1],
                             Flip(pops[j]), p.children[j])) {
      return Fail(first);
    }
  }
  return true;
}

bool Comparer::SingleRelationEqual(const Expr& gl, const std::string& gop, const Expr& gr,
                                   const Expr& pl, const std::string& pop, const Expr& pr) {
  std::string described = absl::StrCat(ToString(gl), " ", gop, " ", ToString(gr), " vs ",
                                       ToString(pl), " ", pop, " ", ToString(pr));
  if (OpClass(gop) != OpClass(pop)) return Fail("the relations differ: " + described);
  bool g_flip = gop == ">" || gop == ">=", p_flip = pop == ">" || pop == ">=";
  Expr dg = g_flip ? Difference(gr, gl) : Difference(gl, gr);
  Expr dp = p_flip ? Difference(pr, pl) : Difference(pl, pr);
  bool inequality = OpClass(gop) == "<" || OpClass(gop) == "<=";
  int sign = 0;
  switch (CompareProportional(dg, dp, &sign)) {
    case SymbolicVerdict::kEqual:
      if (inequality && sign < 0) {
        return Fail("the inequality points the other way: " + described);
      }
      return true;
    case SymbolicVerdict::kDifferent:
      return Fail("the relations differ: " + described);
    case SymbolicVerdict::kUnknown:
      break;
  }
  if (NumericProportional(dg, dp, inequality)) return true;
  return Fail(absl::StrCat("the relations differ: ", described, " (", reason_, ")"));
}

// dg = c * dp for one constant c (c > 0 when `positive`), at random points.
bool Comparer::NumericProportional(const Expr& dg, const Expr& dp, bool positive) {
  std::set<std::string> symbols;
  CollectSymbols(dg, symbols);
  CollectSymbols(dp, symbols);
  std::optional<Complex> ratio;
  int agreed = 0;
  for (const Point& point : Points(symbols)) {
    if (OutOfBudget()) return Fail("the comparison ran out of its time budget");
    std::optional<Value> a = Evaluate(dg, point), b = Evaluate(dp, point);
    if (!a || !b || a->inf != 0 || b->inf != 0) continue;
    long double scale = std::max(std::abs(a->z), std::abs(b->z));
    if (std::abs(b->z) <= 1e-12L * std::max(scale, 1.0L)) {
      if (std::abs(a->z) > 1e-12L * std::max(scale, 1.0L)) return Fail("not proportional");
      ++agreed;
      continue;
    }
    Complex r = a->z / b->z;
    if (std::abs(r) < 1e-12L) return Fail("not proportional");
    if (!ratio) {
      if (positive && (std::abs(r.imag()) > 1e-9L * std::abs(r) || r.real() <= 0)) {
        return Fail("an inequality multiplied by a negative number flips");
      }
      ratio = r;
    } else if (std::abs(r - *ratio) > 1e-8L * std::abs(*ratio)) {
      return Fail("not proportional");
    }
    ++agreed;
  }
  if (agreed >= (symbols.empty() ? 1 : 3)) return true;
  return Fail("could not evaluate enough points");
}

std::optional<Expr> Comparer::UnionOfRelations(const Expr& list) {
  if (list.kind != Kind::kList || list.open != 0) return std::nullopt;
  std::optional<Expr> out;
  for (const Expr& item : list.children) {
    std::optional<Expr> set = SolutionSet(item);
    if (!set) return std::nullopt;
    out = out ? MakeBinary(Kind::kUnion, std::move(*out), std::move(*set)) : std::move(*set);
  }
  return out;
}

std::optional<Expr> Comparer::SolutionSet(const Expr& r, std::string* variable) {
  if (r.kind != Kind::kRelation) return std::nullopt;
  std::set<std::string> symbols;
  CollectSymbols(r, symbols);
  if (symbols.size() != 1) return std::nullopt;
  const std::string& v = *symbols.begin();
  if (variable != nullptr) *variable = v;
  auto is_var = [&](const Expr& e) { return e.kind == Kind::kSymbol && e.name == v; };
  auto is_const = [&](const Expr& e) { return IsScalar(e) && !HasSymbols(e); };
  std::vector<std::string> ops = Ops(r);
  if (ops.size() == 1) {
    Expr lhs = r.children[0], rhs = r.children[1];
    std::string op = ops[0];
    if (op == "in") {
      if (!is_var(lhs) || !IsSetValued(rhs)) return std::nullopt;
      return rhs;
    }
    if (is_var(rhs) && is_const(lhs)) {
      std::swap(lhs, rhs);
      op = Flip(op);
    }
    if (!is_var(lhs) || !is_const(rhs)) return std::nullopt;
    if (op == "<") return Interval('(', Infinity(true), rhs, ')');
    if (op == "<=") return Interval('(', Infinity(true), rhs, ']');
    if (op == ">") return Interval('(', rhs, Infinity(false), ')');
    if (op == ">=") return Interval('[', rhs, Infinity(false), ')');
    if (op == "=") return MakeList('{', '}', {rhs});
    if (op == "!=") {
      return MakeBinary(Kind::kUnion, Interval('(', Infinity(true), rhs, ')'),
                        Interval('(', rhs, Infinity(false), ')'));
    }
    return std::nullopt;
  }
  if (ops.size() == 2 && is_const(r.children[0]) && is_var(r.children[1]) &&
      is_const(r.children[2])) {
    bool up = (ops[0] == "<" || ops[0] == "<=") && (ops[1] == "<" || ops[1] == "<=");
    bool down = (ops[0] == ">" || ops[0] == ">=") && (ops[1] == ">" || ops[1] == ">=");
    if (up) {
      return Interval(ops[0] == "<" ? '(' : '[', r.children[0], r.children[2],
                      ops[1] == "<" ? ')' : ']');
    }
    if (down) {
      return Interval(ops[1] == ">" ? '(' : '[', r.children[2], r.children[0],
                      ops[0] == ">" ? ')' : ']');
    }
  }
  return std::nullopt;
}

}  // namespace ponder::reward::internal
