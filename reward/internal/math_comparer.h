// The comparison behind Compare (math_equivalence.h), one object per verdict. Its parts live
// in three files: structures and dispatch (math_equivalence.cc), relations
// (math_compare_relation.cc) and scalars (math_compare_scalar.cc).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reward/internal/math_equivalence.h"
#include "reward/internal/math_expr.h"
#include "reward/internal/math_value.h"

namespace ponder::reward::internal {

class Comparer {
 public:
  explicit Comparer(const EquivalenceOptions& options) : options_(options) {}

  // Whether gold `g` equals answer `p`; when not, reason() says why.
  bool Equal(const Expr& g, const Expr& p);
  const std::string& reason() const { return reason_; }

 private:
  static constexpr int kMaxSteps = 20000;

  bool Fail(std::string reason);
  bool OutOfBudget();
  // "the set {1, 2}" for reasons (shortened).
  static std::string Describe(const Expr& e);

  // Structures (math_equivalence.cc).
  bool ListEqual(const Expr& g, const Expr& p);
  bool Ordered(const Expr& g, const Expr& p);
  bool Unordered(const std::vector<Expr>& g, const std::vector<Expr>& p);
  bool MatrixEqual(const Expr& g, const Expr& p);
  bool TextEqual(const Expr& g, const Expr& p);
  bool RatioEqual(const Expr& g, const Expr& p);
  bool PercentEqual(const Expr& g, const Expr& p);

  // Relations (math_compare_relation.cc).
  bool RelationEqual(const Expr& g, const Expr& p);
  bool RelationsEqual(const Expr& g, const Expr& p);
  bool ScalarRelationEqual(const Expr& g, const Expr& p);
  bool SingleRelationEqual(const Expr& gl, const std::string& gop, const Expr& gr, const Expr& pl,
                           const std::string& pop, const Expr& pr);
  bool NumericProportional(const Expr& dg, const Expr& dp, bool positive);
  // The solution set of a relation in one variable ((5, \infty) for x > 5), if it has one;
  // `variable` (optional) receives the variable's name.
  static std::optional<Expr> SolutionSet(const Expr& relation, std::string* variable = nullptr);
  // A bare list of such relations ("x < -2, x > 3", an "or") as the union of their sets.
  static std::optional<Expr> UnionOfRelations(const Expr& list);

  // Scalars (math_compare_scalar.cc).
  bool ScalarEqual(const Expr& g, const Expr& p);
  bool ConstantEqual(const Expr& g, const Expr& p);
  bool RoundedEqual(const Value& a, const Value& b);
  bool Close(const Value& a, const Value& b) const;
  bool FunctionEqual(const Expr& g, const Expr& p, const std::set<std::string>& symbols);
  std::vector<Point> Points(const std::set<std::string>& symbols) const;

  const EquivalenceOptions& options_;
  std::string reason_;
  int steps_ = 0;
};

void CollectSymbols(const Expr& e, std::set<std::string>& out);

}  // namespace ponder::reward::internal
