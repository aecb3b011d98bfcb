// Dispatch by kind, and the structures: lists (tuples, intervals, sets), matrices, ratios,
// percent and words.
#include "reward/internal/math_equivalence.h"

#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "reward/internal/math_answer.h"
#include "reward/internal/math_comparer.h"

namespace ponder::reward::internal {
namespace {

using Kind = Expr::Kind;

bool IsSetLike(const Expr& e) { return e.kind == Kind::kList && (e.open == 0 || e.open == '{'); }

bool IsTuple(const Expr& e) { return e.kind == Kind::kList && e.open == '(' && e.close == ')'; }

std::string Brackets(const Expr& e) {
  return absl::StrCat(std::string(1, e.open ? e.open : ' '), "...",
                      std::string(1, e.close ? e.close : ' '));
}

}  // namespace

Verdict Compare(const Expr& gold, const Expr& pred, const EquivalenceOptions& options) {
  Comparer comparer(options);
  Verdict verdict;
  verdict.equal = comparer.Equal(gold, pred);
  if (!verdict.equal) verdict.reason = comparer.reason();
  return verdict;
}

void CollectSymbols(const Expr& e, std::set<std::string>& out) {
  if (e.kind == Kind::kSymbol) out.insert(e.name);
  for (const Expr& c : e.children) CollectSymbols(c, out);
}

bool Comparer::Fail(std::string reason) {
  reason_ = std::move(reason);
  return false;
}

bool Comparer::OutOfBudget() {
  if (++steps_ > kMaxSteps) return true;
  return (steps_ & 15) == 1 && options_.deadline != absl::InfiniteFuture() &&
         absl::Now() > options_.deadline;
}

std::string Comparer::Describe(const Expr& e) {
  std::string text = ToString(e);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return absl::StrCat("the ", KindName(e), " ", text);
}

bool Comparer::Equal(const Expr& g, const Expr& p) {
  if (OutOfBudget()) return Fail("the comparison ran out of its time budget");
  if (g.kind == Kind::kRelation || p.kind == Kind::kRelation) return RelationEqual(g, p);
  if ((g.kind == Kind::kPercent) != (p.kind == Kind::kPercent)) return PercentEqual(g, p);
  if (g.kind == Kind::kText || p.kind == Kind::kText) return TextEqual(g, p);
  if (g.kind == Kind::kUnion || p.kind == Kind::kUnion) {
    // "x < -2, x > 3" (or) against (-\infty, -2) \cup (3, \infty).
    if (std::optional<Expr> union_of = UnionOfRelations(g.kind == Kind::kUnion ? p : g)) {
      return g.kind == Kind::kUnion ? Equal(g, *union_of) : Equal(*union_of, p);
    }
    if (g.kind != p.kind) {
      return Fail(absl::StrCat(Describe(g), " and ", Describe(p), " are different kinds"));
    }
    return Unordered(g.children, p.children);
  }
  bool g_list = g.kind == Kind::kList, p_list = p.kind == Kind::kList;
  if (g_list && p_list) return ListEqual(g, p);
  if (g.kind == Kind::kMatrix || p.kind == Kind::kMatrix) return MatrixEqual(g, p);
  if (g_list || p_list) {
    // As sets, {5} is 5, and so is "5, \frac{10}{2}" (one value written twice).
    const Expr& list = g_list ? g : p;
    const Expr& other = g_list ? p : g;
    if (IsSetLike(list) && !list.children.empty()) {
      std::vector<Expr> one = {other};
      return g_list ? Unordered(list.children, one) : Unordered(one, list.children);
    }
    return Fail(absl::StrCat(Describe(g), " and ", Describe(p), " are different kinds"));
  }
  if (g.kind == Kind::kRatio || p.kind == Kind::kRatio) return RatioEqual(g, p);
  return ScalarEqual(g, p);
}

bool Comparer::ListEqual(const Expr& g, const Expr& p) {
  if (IsSetLike(g) && IsSetLike(p)) return Unordered(g.children, p.children);
  if (g.children.size() != p.children.size()) {
    return Fail(absl::StrCat("the gold has ", g.children.size(), " items (", Describe(g),
                             "), the answer ", p.children.size()));
  }
  if (g.open == p.open && g.close == p.close) return Ordered(g, p);
  bool bare_and_tuple = (g.open == 0 && IsTuple(p)) || (p.open == 0 && IsTuple(g));
  if (bare_and_tuple) {
    if (Ordered(g, p)) return true;
    if (!options_.tuple_matches_set) return false;
    return Unordered(g.children, p.children);
  }
  if ((IsSetLike(g) && IsTuple(p)) || (IsSetLike(p) && IsTuple(g))) {
    if (!options_.tuple_matches_set) {
      return Fail(absl::StrCat("a set is unordered and a tuple ordered: ", Describe(g), " vs ",
                               Describe(p), " (the option tuple_matches_set allows it)"));
    }
    return Unordered(g.children, p.children);
  }
  return Fail(absl::StrCat("the brackets differ: ", Brackets(g), " in the gold ", ToString(g), ", ",
                           Brackets(p), " in the answer ", ToString(p)));
}

bool Comparer::Ordered(const Expr& g, const Expr& p) {
  for (size_t k = 0; k < g.children.size(); ++k) {
    if (!Equal(g.children[k], p.children[k])) {
      return Fail(absl::StrCat("item ", k + 1, " differs: ", reason_));
    }
  }
  return true;
}

// As sets: every gold part equals a part of the answer and every part of the answer equals
// a gold part (a repeated element counts once: {1, 1, 2} = {1, 2}).
bool Comparer::Unordered(const std::vector<Expr>& g, const std::vector<Expr>& p) {
  std::vector<bool> covered(p.size(), false);
  for (const Expr& item : g) {
    bool found = false;
    for (size_t k = 0; k < p.size() && !found; ++k) {
      if (Equal(item, p[k])) found = covered[k] = true;
    }
    if (OutOfBudget()) return Fail("the comparison ran out of its time budget");
    if (!found) {
      return Fail(absl::StrCat("no part of the answer equals the gold's ", ToString(item)));
    }
  }
  for (size_t k = 0; k < p.size(); ++k) {
    if (covered[k]) continue;
    bool found = false;
    for (size_t j = 0; j < g.size() && !found; ++j) found = Equal(g[j], p[k]);
    if (!found) return Fail(absl::StrCat("the answer's ", ToString(p[k]), " is not in the gold"));
  }
  return true;
}

bool Comparer::MatrixEqual(const Expr& g, const Expr& p) {
  // A one-column (or one-row) matrix and a tuple are the same vector.
  auto cells = [](const Expr& e, size_t& rows, size_t& cols) {
    std::vector<const Expr*> out;
    rows = cols = 0;
    if (e.kind == Kind::kMatrix) {
      rows = e.children.size();
      cols = rows > 0 ? e.children[0].children.size() : 0;
      for (const Expr& r : e.children) {
        for (const Expr& c : r.children) out.push_back(&c);
      }
    } else if (IsTuple(e)) {
      rows = e.children.size();
      cols = 1;
      for (const Expr& c : e.children) out.push_back(&c);
    }
    return out;
  };
  size_t gr, gc, pr, pc;
  std::vector<const Expr*> a = cells(g, gr, gc), b = cells(p, pr, pc);
  if (a.empty() || b.empty()) {
    return Fail(absl::StrCat(Describe(g), " and ", Describe(p), " are different kinds"));
  }
  // A tuple has no orientation: it matches a row or a column; two matrices need one shape.
  bool tuple_and_vector =
      (IsTuple(g) && (pr == 1 || pc == 1)) || (IsTuple(p) && (gr == 1 || gc == 1));
  if (a.size() != b.size() || (!(gr == pr && gc == pc) && !tuple_and_vector)) {
    return Fail(
        absl::StrCat("the matrices have different shapes: ", gr, "x", gc, " vs ", pr, "x", pc));
  }
  for (size_t k = 0; k < a.size(); ++k) {
    if (!Equal(*a[k], *b[k])) {
      return Fail(absl::StrCat("entry ", k / gc + 1, ",", k % gc + 1, " differs: ", reason_));
    }
  }
  return true;
}

bool Comparer::TextEqual(const Expr& g, const Expr& p) {
  // Words compare case-insensitively, without spaces, brackets or points: "(B)" = "b".
  auto key = [](const Expr& e) -> std::optional<std::string> {
    std::string name;
    if (e.kind == Kind::kText || e.kind == Kind::kSymbol || e.kind == Kind::kConstant) {
      name = e.name;
    } else if (e.kind == Kind::kMul) {  // \text{AB} vs AB (read as A*B)
      for (const Expr& c : e.children) {
        if (c.kind != Kind::kSymbol && c.kind != Kind::kConstant) return std::nullopt;
        name += c.name;
      }
    } else {
      return std::nullopt;
    }
    std::string out;
    for (char c : name) {
      if (c == ' ' || c == '(' || c == ')' || c == '.') continue;
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  };
  std::optional<std::string> a = key(g), b = key(p);
  if (a && b && *a == *b) return true;
  if (!a || !b) {
    return Fail(absl::StrCat(Describe(g), " and ", Describe(p), " are different kinds"));
  }
  return Fail(absl::StrCat("the words differ: '", *a, "' vs '", *b, "'"));
}

bool Comparer::RatioEqual(const Expr& g, const Expr& p) {
  if (g.kind == Kind::kRatio && p.kind == Kind::kRatio) {
    if (g.children.size() != p.children.size()) {
      return Fail(
          absl::StrCat("the ratios have different lengths: ", ToString(g), " vs ", ToString(p)));
    }
    bool same = true;
    for (size_t k = 0; k < g.children.size() && same; ++k) {
      same = Equal(g.children[k], p.children[k]);
    }
    if (same) return true;
    // Proportional: 7:32 = 14:64, when no part is zero (12:00 is a time, not 0).
    std::vector<Value> gv, pv;
    for (size_t k = 0; k < g.children.size(); ++k) {
      std::optional<Value> a = Evaluate(g.children[k], Point());
      std::optional<Value> b = Evaluate(p.children[k], Point());
      if (!a || !b || !a->exact || !b->exact || *a->exact == 0 || *b->exact == 0) {
        return Fail(absl::StrCat("the ratios differ: ", ToString(g), " vs ", ToString(p)));
      }
      gv.push_back(*a);
      pv.push_back(*b);
    }
    for (size_t k = 1; k < gv.size(); ++k) {
      if (*gv[k].exact * *pv[0].exact != *pv[k].exact * *gv[0].exact) {
        return Fail(absl::StrCat("the ratios differ: ", ToString(g), " vs ", ToString(p)));
      }
    }
    return true;
  }
  // A two-part ratio is also its quotient: 7:32 = 7/32.
  const Expr& ratio = g.kind == Kind::kRatio ? g : p;
  const Expr& other = g.kind == Kind::kRatio ? p : g;
  if (ratio.children.size() != 2 || !IsScalar(other)) {
    return Fail(absl::StrCat(Describe(g), " and ", Describe(p), " are different kinds"));
  }
  Expr quotient = MakeNode(Kind::kDiv, ratio.children);
  return g.kind == Kind::kRatio ? Equal(quotient, other) : Equal(other, quotient);
}

// 50% equals 50 and 0.5.
bool Comparer::PercentEqual(const Expr& g, const Expr& p) {
  const Expr& percent = g.kind == Kind::kPercent ? g : p;
  const Expr& other = g.kind == Kind::kPercent ? p : g;
  const Expr& number = percent.children[0];
  if (g.kind == Kind::kPercent ? Equal(number, other) : Equal(other, number)) return true;
  std::string first = reason_;
  if (g.kind == Kind::kPercent ? ScalarEqual(percent, other) : ScalarEqual(other, percent)) {
    return true;
  }
  return Fail(first);
}

}  // namespace ponder::reward::internal
