// Scalars: exact rationals, written decimals rounded, the symbolic form, and numeric
// evaluation at random points as the fallback.
#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/internal/math_comparer.h"
#include "reward/internal/math_symbolic.h"

namespace ponder::reward::internal {
namespace {

std::string Show(const Value& v) {
  if (v.inf != 0) return v.inf > 0 ? "oo" : "-oo";
  if (v.exact) {
    std::string s = v.exact->get_str();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }
  std::string s = absl::StrCat(static_cast<double>(v.z.real()));
  if (v.z.imag() != 0)
    absl::StrAppend(&s, v.z.imag() > 0 ? "+" : "", static_cast<double>(v.z.imag()), "i");
  return s;
}

// round(q * 10^places) as an integer, halves away from zero.
mpz_class RoundScaled(const mpq_class& q, int places) {
  mpz_class scale;
  mpz_ui_pow_ui(scale.get_mpz_t(), 10, places);
  mpq_class scaled = abs(q) * scale + mpq_class(1, 2);
  mpz_class r;
  mpz_fdiv_q(r.get_mpz_t(), scaled.get_num_mpz_t(), scaled.get_den_mpz_t());
  return q < 0 ? mpz_class(-r) : r;
}

}  // namespace

bool Comparer::ScalarEqual(const Expr& g, const Expr& p) {
  if (!IsScalar(g) || !IsScalar(p)) {
    return Fail(absl::StrCat(Describe(g), " and ", Describe(p), " are different kinds"));
  }
  std::set<std::string> gs, ps;
  CollectSymbols(g, gs);
  CollectSymbols(p, ps);
  std::set<std::string> all = gs;
  all.insert(ps.begin(), ps.end());
  if (all.empty()) return ConstantEqual(g, p);
  // Different variables can still be equal (sin^2 x + cos^2 x and 1); if not, say so.
  std::string variables;
  if (gs != ps) {
    variables = absl::StrCat(" (the variables differ: {", absl::StrJoin(gs, ", "),
                             "} in the gold, {", absl::StrJoin(ps, ", "), "} in the answer)");
  }
  switch (CompareSymbolic(g, p)) {
    case SymbolicVerdict::kEqual:
      return true;
    case SymbolicVerdict::kDifferent:
      return Fail(
          absl::StrCat("the expressions differ: ", ToString(g), " vs ", ToString(p), variables));
    case SymbolicVerdict::kUnknown:
      break;
  }
  if (FunctionEqual(g, p, all)) return true;
  return Fail(reason_ + variables);
}

bool Comparer::ConstantEqual(const Expr& g, const Expr& p) {
  std::optional<Value> a = Evaluate(g, Point());
  if (!a) return Fail(absl::StrCat("the gold ", ToString(g), " has no value"));
  std::optional<Value> b = Evaluate(p, Point());
  if (!b) {
    return Fail(absl::StrCat("the answer ", ToString(p),
                             " has no value (undefined, or too large to compare)"));
  }
  std::string differ = absl::StrCat("the numbers differ: ", ToString(g), " = ", Show(*a),
                                    ", the answer ", ToString(p), " = ", Show(*b));
  if (a->inf != 0 || b->inf != 0) return a->inf == b->inf ? true : Fail(differ);
  bool decimal = HasDecimal(g) || HasDecimal(p);
  if (a->exact && b->exact) {
    if (*a->exact == *b->exact) return true;
    if (!decimal) return Fail(differ);
  }
  if (decimal) {
    if (RoundedEqual(*a, *b)) return true;
    return Fail(
        absl::StrCat(differ, " (not equal to ", options_.decimal_places, " decimal places)"));
  }
  switch (CompareSymbolic(g, p)) {
    case SymbolicVerdict::kEqual:
      return true;
    case SymbolicVerdict::kDifferent:
      return Fail(differ);
    case SymbolicVerdict::kUnknown:
      break;
  }
  // Approximate values this large cannot tell n from n + 1: unsure, so not equal.
  if (std::max(std::abs(a->z), std::abs(b->z)) > 1e9L) {
    return Fail(absl::StrCat(differ, " (too large to compare approximately)"));
  }
  return Close(*a, *b) ? true : Fail(differ);
}

// Both round to the same `decimal_places` places (Math-Verify's float_rounding), and, safer
// than that for small values, agree to a relative 10^(1 - decimal_places): 0.0000672 and
// 0.0000672672 round alike but differ in the fourth significant digit.
bool Comparer::RoundedEqual(const Value& a, const Value& b) {
  int places = options_.decimal_places;
  long double relative = std::pow(10.0L, 1 - places);
  long double magnitude = std::max(std::abs(a.z), std::abs(b.z));
  if (std::abs(a.z - b.z) > relative * magnitude) return false;
  if (!a.is_real() || !b.is_real()) return true;
  if (a.exact && b.exact) return RoundScaled(*a.exact, places) == RoundScaled(*b.exact, places);
  long double x = a.z.real(), y = b.z.real();
  if (magnitude * std::pow(10.0L, places) > 1e17L) {  // beyond long double's digits
    return std::abs(x - y) <= 1e-15L * magnitude;
  }
  long double scale = std::pow(10.0L, places);
  return std::round(x * scale) == std::round(y * scale);
}

bool Comparer::Close(const Value& a, const Value& b) const {
  if (a.inf != 0 || b.inf != 0) return a.inf == b.inf;
  long double scale = std::max(std::abs(a.z), std::abs(b.z));
  return std::abs(a.z - b.z) <= options_.tolerance * scale + 1e-18L;
}

bool Comparer::FunctionEqual(const Expr& g, const Expr& p, const std::set<std::string>& symbols) {
  int agreed = 0;
  for (const Point& point : Points(symbols)) {
    if (OutOfBudget()) return Fail("the comparison ran out of its time budget");
    std::optional<Value> a = Evaluate(g, point);
    std::optional<Value> b = Evaluate(p, point);
    if (!a || !b) continue;  // a pole or an undefined point; the others decide
    bool same = (a->exact && b->exact) ? *a->exact == *b->exact : Close(*a, *b);
    if (!same) {
      std::string at;
      for (const auto& [name, z] : point.vars) {
        absl::StrAppend(&at, at.empty() ? "" : ", ", name, " = ", static_cast<double>(z.real()));
      }
      return Fail(absl::StrCat("the expressions differ: ", ToString(g), " vs ", ToString(p),
                               " (at ", at, ": ", Show(*a), " vs ", Show(*b), ")"));
    }
    ++agreed;
  }
  if (agreed >= 3) return true;
  return Fail(absl::StrCat("could not evaluate ", ToString(g), " and ", ToString(p),
                           " at enough points to compare them"));
}

// Seeded points with values of both signs away from 0 and from small integers.
std::vector<Point> Comparer::Points(const std::set<std::string>& symbols) const {
  std::vector<Point> points;
  if (symbols.empty()) {
    points.emplace_back();
    return points;
  }
  std::mt19937_64 rng(options_.seed);
  std::uniform_real_distribution<double> dist(0.3, 2.7);
  for (int k = 0; k < options_.random_points; ++k) {
    Point point;
    for (const std::string& s : symbols) {
      double v = dist(rng);
      if ((k + point.vars.size()) % 3 == 2) v = -v;  // a third of the values negative
      point.vars.emplace_back(s, Complex(v, 0));
    }
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace ponder::reward::internal
