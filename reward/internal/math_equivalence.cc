#include "reward/internal/math_equivalence.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <complex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace ponder::reward::internal {
namespace {

using Complex = std::complex<long double>;
using Kind = Expr::Kind;

constexpr size_t kMaxExpansions = 16;

// ---- evaluation ---------------------------------------------------------------------------

struct Value {
  bool exact = false;
  Rational q;   // when exact
  Complex z;    // always (unless infinite)
  int inf = 0;  // +1 / -1 for +-infinity
};

struct Env {
  std::vector<std::pair<std::string, Complex>> vars;
  const Complex* Find(const std::string& name) const {
    for (const auto& [n, v] : vars) {
      if (n == name) return &v;
    }
    return nullptr;
  }
};

Value Exact(const Rational& q) {
  Value v;
  v.exact = true;
  v.q = q;
  v.z = Complex(q.ToLongDouble(), 0);
  return v;
}

Value Numeric(Complex z) {
  Value v;
  v.z = z;
  return v;
}

bool Finite(const Complex& z) { return std::isfinite(z.real()) && std::isfinite(z.imag()); }

std::optional<Value> Eval(const Expr& e, const Env& env);

std::optional<Value> EvalAdd(const Expr& e, const Env& env) {
  Value sum = Exact(Rational(0));
  int inf = 0;
  for (const Expr& child : e.children) {
    std::optional<Value> v = Eval(child, env);
    if (!v) return std::nullopt;
    if (v->inf != 0) {
      if (inf != 0 && inf != v->inf) return std::nullopt;  // inf - inf
      inf = v->inf;
      continue;
    }
    if (sum.exact && v->exact) {
      std::optional<Rational> q = Add(sum.q, v->q);
      if (q) {
        sum = Exact(*q);
        continue;
      }
    }
    sum = Numeric(sum.z + v->z);
  }
  if (inf != 0) {
    Value v;
    v.inf = inf;
    return v;
  }
  return sum;
}

std::optional<Value> EvalMul(const Expr& e, const Env& env) {
  Value product = Exact(Rational(1));
  int inf = 0;
  bool sign_negative = false;
  for (const Expr& child : e.children) {
    std::optional<Value> v = Eval(child, env);
    if (!v) return std::nullopt;
    if (v->inf != 0) {
      inf = 1;
      if (v->inf < 0) sign_negative = !sign_negative;
      continue;
    }
    if (product.exact && v->exact) {
      std::optional<Rational> q = Mul(product.q, v->q);
      if (q) {
        product = Exact(*q);
        continue;
      }
    }
    product = Numeric(product.z * v->z);
  }
  if (inf != 0) {
    // inf times a positive or negative real number.
    if (product.z.imag() != 0 || product.z.real() == 0) return std::nullopt;
    if (product.z.real() < 0) sign_negative = !sign_negative;
    Value v;
    v.inf = sign_negative ? -1 : 1;
    return v;
  }
  return product;
}

std::optional<Value> EvalPow(const Value& base, const Value& exponent) {
  if (base.inf != 0 || exponent.inf != 0) return std::nullopt;
  if (base.exact && exponent.exact) {
    const Rational& p = exponent.q;
    if (p.is_integer()) {
      std::optional<Rational> q = PowInt(base.q, p.num());
      if (q) return Exact(*q);
    } else if (p.den() <= 64) {
      std::optional<Rational> root = ExactRoot(base.q, p.den());
      if (root) {
        std::optional<Rational> q = PowInt(*root, p.num());
        if (q) return Exact(*q);
      }
      // A real odd root of a negative number: (-8)^(1/3) = -2, numerically too.
      if (base.q.num() < 0 && p.den() % 2 == 1) {
        long double r = -std::pow(-base.q.ToLongDouble(), 1.0L / p.den());
        return Numeric(Complex(std::pow(r, static_cast<long double>(p.num())), 0));
      }
    }
  }
  if (base.z == Complex(0, 0)) {
    if (exponent.z.real() > 0) return Exact(Rational(0));
    return std::nullopt;
  }
  return Numeric(std::pow(base.z, exponent.z));
}

std::optional<Value> EvalFunc(const Expr& e, const Env& env) {
  std::vector<Value> args;
  for (const Expr& child : e.children) {
    std::optional<Value> v = Eval(child, env);
    if (!v) return std::nullopt;
    args.push_back(*v);
  }
  if (args.empty()) return std::nullopt;
  const Value& x = args[0];
  const std::string& f = e.name;
  if (f == "sqrt") {
    Value index = args.size() > 1 ? args[1] : Exact(Rational(2));
    if (!index.exact || !index.q.is_integer() || index.q.num() < 2) {
      if (index.inf != 0 || index.z == Complex(0, 0)) return std::nullopt;
      return EvalPow(x, Numeric(Complex(1, 0) / index.z));
    }
    std::optional<Rational> inverse = Rational::Make(1, index.q.num());
    return EvalPow(x, Exact(*inverse));
  }
  if (x.inf != 0) {
    if (f == "abs") {
      Value v;
      v.inf = 1;
      return v;
    }
    return std::nullopt;
  }
  if (f == "abs") {
    if (x.exact) return Exact(x.q.num() < 0 ? *Neg(x.q) : x.q);
    return Numeric(Complex(std::abs(x.z), 0));
  }
  if (f == "factorial") {
    if (x.exact && x.q.is_integer() && x.q.num() >= 0 && x.q.num() <= 20) {
      int64_t r = 1;
      for (int64_t k = 2; k <= x.q.num(); ++k) r *= k;
      return Exact(Rational(r));
    }
    if (x.z.imag() != 0 || x.z.real() < 0) return std::nullopt;
    return Numeric(Complex(std::tgamma(x.z.real() + 1), 0));
  }
  if (f == "log" && args.size() > 1) {
    if (args[1].inf != 0) return std::nullopt;
    return Numeric(std::log(x.z) / std::log(args[1].z));
  }
  const Complex z = x.z;
  if (f == "ln" || f == "log") return Numeric(std::log(z));
  if (f == "lg") return Numeric(std::log10(z));
  if (f == "exp") return Numeric(std::exp(z));
  if (f == "sin") return Numeric(std::sin(z));
  if (f == "cos") return Numeric(std::cos(z));
  if (f == "tan") return Numeric(std::tan(z));
  if (f == "sec") return Numeric(Complex(1, 0) / std::cos(z));
  if (f == "csc") return Numeric(Complex(1, 0) / std::sin(z));
  if (f == "cot") return Numeric(std::cos(z) / std::sin(z));
  if (f == "arcsin") return Numeric(std::asin(z));
  if (f == "arccos") return Numeric(std::acos(z));
  if (f == "arctan") return Numeric(std::atan(z));
  if (f == "sinh") return Numeric(std::sinh(z));
  if (f == "cosh") return Numeric(std::cosh(z));
  if (f == "tanh") return Numeric(std::tanh(z));
  return std::nullopt;
}

std::optional<Value> Eval(const Expr& e, const Env& env) {
  switch (e.kind) {
    case Kind::kNumber:
      return Exact(e.number);
    case Kind::kConstant: {
      if (e.name == "pi") return Numeric(Complex(3.141592653589793238462643383279502884L, 0));
      if (e.name == "e") return Numeric(Complex(2.718281828459045235360287471352662498L, 0));
      if (e.name == "i") return Numeric(Complex(0, 1));
      Value v;
      v.inf = 1;
      return v;
    }
    case Kind::kSymbol: {
      const Complex* z = env.Find(e.name);
      if (z == nullptr) return std::nullopt;
      return Numeric(*z);
    }
    case Kind::kNeg: {
      std::optional<Value> v = Eval(e.children[0], env);
      if (!v) return std::nullopt;
      if (v->inf != 0) {
        v->inf = -v->inf;
        return v;
      }
      if (v->exact) {
        std::optional<Rational> q = Neg(v->q);
        if (q) return Exact(*q);
      }
      return Numeric(-v->z);
    }
    case Kind::kAdd:
      return EvalAdd(e, env);
    case Kind::kMul:
      return EvalMul(e, env);
    case Kind::kDiv: {
      std::optional<Value> a = Eval(e.children[0], env);
      std::optional<Value> b = Eval(e.children[1], env);
      if (!a || !b) return std::nullopt;
      if (b->inf != 0) {
        if (a->inf != 0) return std::nullopt;
        return Exact(Rational(0));
      }
      if (b->z == Complex(0, 0)) return std::nullopt;
      if (a->inf != 0) {
        if (b->z.imag() != 0) return std::nullopt;
        Value v;
        v.inf = (b->z.real() > 0) == (a->inf > 0) ? 1 : -1;
        return v;
      }
      if (a->exact && b->exact) {
        std::optional<Rational> q = Div(a->q, b->q);
        if (q) return Exact(*q);
      }
      return Numeric(a->z / b->z);
    }
    case Kind::kPow: {
      std::optional<Value> a = Eval(e.children[0], env);
      std::optional<Value> b = Eval(e.children[1], env);
      if (!a || !b) return std::nullopt;
      return EvalPow(*a, *b);
    }
    case Kind::kFunc:
      return EvalFunc(e, env);
    case Kind::kPercent: {
      std::optional<Value> v = Eval(e.children[0], env);
      if (!v || v->inf != 0) return std::nullopt;
      if (v->exact) {
        std::optional<Rational> q = Div(v->q, Rational(100));
        if (q) return Exact(*q);
      }
      return Numeric(v->z / 100.0L);
    }
    default:
      return std::nullopt;
  }
}

// ---- tree properties ----------------------------------------------------------------------

bool HasDecimal(const Expr& e) {
  if (e.kind == Kind::kNumber && e.decimal) return true;
  for (const Expr& c : e.children) {
    if (HasDecimal(c)) return true;
  }
  return false;
}

void CollectSymbols(const Expr& e, std::set<std::string>& out) {
  if (e.kind == Kind::kSymbol) out.insert(e.name);
  for (const Expr& c : e.children) CollectSymbols(c, out);
}

bool IsScalarKind(Kind k) {
  return k != Kind::kList && k != Kind::kMatrix && k != Kind::kRelation && k != Kind::kUnion &&
         k != Kind::kText && k != Kind::kPlusMinus;
}

bool IsScalarTree(const Expr& e) {
  if (!IsScalarKind(e.kind)) return false;
  for (const Expr& c : e.children) {
    if (!IsScalarTree(c)) return false;
  }
  return true;
}

// ---- \pm expansion ------------------------------------------------------------------------

bool HasPlusMinus(const Expr& e) {
  if (e.kind == Kind::kPlusMinus) return true;
  for (const Expr& c : e.children) {
    if (HasPlusMinus(c)) return true;
  }
  return false;
}

// Every value of an expression with \pm in it: a \pm b -> a + b, a - b.
std::vector<Expr> Expand(const Expr& e) {
  if (!HasPlusMinus(e)) return {e};
  std::vector<std::vector<Expr>> options;
  for (const Expr& c : e.children) options.push_back(Expand(c));
  std::vector<Expr> out;
  std::vector<size_t> index(options.size(), 0);
  while (out.size() < kMaxExpansions) {
    Expr copy = e;
    copy.children.clear();
    for (size_t k = 0; k < options.size(); ++k) copy.children.push_back(options[k][index[k]]);
    if (e.kind == Kind::kPlusMinus) {
      Expr plus = copy;
      plus.kind = Kind::kAdd;
      Expr minus = copy;
      minus.kind = Kind::kAdd;
      Expr neg;
      neg.kind = Kind::kNeg;
      neg.children.push_back(minus.children[1]);
      minus.children[1] = std::move(neg);
      out.push_back(std::move(plus));
      out.push_back(std::move(minus));
    } else {
      out.push_back(std::move(copy));
    }
    size_t k = 0;
    while (k < index.size() && ++index[k] == options[k].size()) index[k++] = 0;
    if (k == index.size()) break;
  }
  return out;
}

// The top level: an answer with \pm becomes the set of its values; inside a set or list,
// each element is expanded in place.
Expr ExpandTop(const Expr& e) {
  if (!HasPlusMinus(e)) return e;
  if (e.kind == Kind::kList && (e.open == 0 || e.open == '{')) {
    Expr out = e;
    out.children.clear();
    for (const Expr& c : e.children) {
      for (Expr& v : Expand(c)) out.children.push_back(std::move(v));
    }
    return out;
  }
  Expr out;
  out.kind = Kind::kList;
  out.children = Expand(e);
  return out;
}

// ---- comparison ---------------------------------------------------------------------------

class Comparer {
 public:
  explicit Comparer(const EquivalenceOptions& options) : options_(options) {}

  bool Equal(const Expr& g, const Expr& p) {
    if (++steps_ > 20000 || absl::Now() > options_.deadline) return false;
    // Equations and memberships with a plain variable on the left: compare the right side.
    if (g.kind == Kind::kRelation && p.kind != Kind::kRelation) {
      if (IsAssignment(g)) return Equal(g.children[1], p);
      return false;
    }
    if (p.kind == Kind::kRelation && g.kind != Kind::kRelation) {
      if (IsAssignment(p)) return Equal(g, p.children[1]);
      return false;
    }
    if (g.kind == Kind::kRelation) return RelationEqual(g, p);

    // Percent: 50% equals 50 and 0.5.
    if ((g.kind == Kind::kPercent) != (p.kind == Kind::kPercent)) {
      const Expr& percent = g.kind == Kind::kPercent ? g : p;
      const Expr& other = g.kind == Kind::kPercent ? p : g;
      const Expr& number = percent.children[0];
      if (g.kind == Kind::kPercent ? Equal(number, other) : Equal(other, number)) return true;
      return g.kind == Kind::kPercent ? ScalarEqual(percent, other) : ScalarEqual(other, percent);
    }

    if (g.kind == Kind::kText || p.kind == Kind::kText) return TextEqual(g, p);

    bool g_list = g.kind == Kind::kList, p_list = p.kind == Kind::kList;
    if (g_list && p_list) return ListEqual(g, p);
    if (g.kind == Kind::kMatrix || p.kind == Kind::kMatrix) return MatrixEqual(g, p);
    if (g_list || p_list) {
      // A one-element set equals its element.
      const Expr& list = g_list ? g : p;
      const Expr& other = g_list ? p : g;
      if (list.open == '{' && list.children.size() == 1) {
        return g_list ? Equal(list.children[0], other) : Equal(other, list.children[0]);
      }
      return false;
    }
    if (g.kind == Kind::kUnion || p.kind == Kind::kUnion) {
      if (g.kind != p.kind) return false;
      return Unordered(g.children, p.children);
    }
    return ScalarEqual(g, p);
  }

 private:
  static bool IsAssignment(const Expr& r) {
    if (r.children.size() != 2 || (r.name != "=" && r.name != "in")) return false;
    const Expr& lhs = r.children[0];
    return lhs.kind == Kind::kSymbol || lhs.kind == Kind::kText;
  }

  static std::string Flip(const std::string& op) {
    if (op == "<") return ">";
    if (op == ">") return "<";
    if (op == "<=") return ">=";
    if (op == ">=") return "<=";
    return op;
  }

  bool RelationEqual(const Expr& g, const Expr& p) {
    if (p.kind != Kind::kRelation || g.children.size() != p.children.size()) return false;
    std::vector<std::string> gops = absl::StrSplit(g.name, ' ');
    std::vector<std::string> pops = absl::StrSplit(p.name, ' ');
    if (gops == pops) {
      bool all = true;
      for (size_t k = 0; k < g.children.size() && all; ++k) {
        all = Equal(g.children[k], p.children[k]);
      }
      if (all) return true;
    }
    // Mirrored: x > 2 is 2 < x.
    std::vector<std::string> flipped;
    for (auto it = pops.rbegin(); it != pops.rend(); ++it) flipped.push_back(Flip(*it));
    if (gops == flipped) {
      bool all = true;
      size_t n = g.children.size();
      for (size_t k = 0; k < n && all; ++k) all = Equal(g.children[k], p.children[n - 1 - k]);
      if (all) return true;
    }
    // Equations: lhs - rhs proportional (2x + 2y = 2 is x + y = 1).
    if (gops.size() == 1 && gops[0] == "=" && pops.size() == 1 && pops[0] == "=") {
      return EquationsProportional(g, p);
    }
    return false;
  }

  bool TextEqual(const Expr& g, const Expr& p) {
    auto key = [](const Expr& e) -> std::optional<std::string> {
      if (e.kind != Kind::kText && e.kind != Kind::kSymbol && e.kind != Kind::kConstant) {
        return std::nullopt;
      }
      std::string out;
      for (char c : e.name) {
        if (c == ' ' || c == '(' || c == ')' || c == '.') continue;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return out;
    };
    std::optional<std::string> a = key(g), b = key(p);
    return a && b && *a == *b;
  }

  bool ListEqual(const Expr& g, const Expr& p) {
    bool g_set = g.open == 0 || g.open == '{';
    bool p_set = p.open == 0 || p.open == '{';
    if (g.children.size() != p.children.size()) return false;
    if (g_set && p_set) return Unordered(g.children, p.children);
    // Ordered: the same brackets, or a bare list against a tuple.
    bool same_brackets = g.open == p.open && g.close == p.close;
    bool bare_vs_tuple = (g.open == 0 && p.open == '(' && p.close == ')') ||
                         (p.open == 0 && g.open == '(' && g.close == ')');
    if (!same_brackets && !bare_vs_tuple) return false;
    for (size_t k = 0; k < g.children.size(); ++k) {
      if (!Equal(g.children[k], p.children[k])) return false;
    }
    return true;
  }

  bool MatrixEqual(const Expr& g, const Expr& p) {
    // A one-column (or one-row) matrix and a tuple are the same vector.
    auto cells = [](const Expr& e, size_t& rows, size_t& cols) -> std::vector<const Expr*> {
      std::vector<const Expr*> out;
      if (e.kind == Kind::kMatrix) {
        rows = e.children.size();
        cols = rows > 0 ? e.children[0].children.size() : 0;
        for (const Expr& r : e.children) {
          for (const Expr& c : r.children) out.push_back(&c);
        }
      } else if (e.kind == Kind::kList && e.open == '(') {
        rows = e.children.size();
        cols = 1;
        for (const Expr& c : e.children) out.push_back(&c);
      } else {
        rows = cols = 0;
      }
      return out;
    };
    size_t gr, gc, pr, pc;
    std::vector<const Expr*> a = cells(g, gr, gc), b = cells(p, pr, pc);
    if (a.empty() || a.size() != b.size()) return false;
    bool vector_g = gr == 1 || gc == 1, vector_p = pr == 1 || pc == 1;
    if (!(gr == pr && gc == pc) && !(vector_g && vector_p)) return false;
    for (size_t k = 0; k < a.size(); ++k) {
      if (!Equal(*a[k], *b[k])) return false;
    }
    return true;
  }

  bool Unordered(const std::vector<Expr>& g, const std::vector<Expr>& p) {
    if (g.size() != p.size()) return false;
    std::vector<bool> used(p.size(), false);
    for (const Expr& item : g) {
      bool found = false;
      for (size_t k = 0; k < p.size(); ++k) {
        if (!used[k] && Equal(item, p[k])) {
          used[k] = true;
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  bool Close(const Value& a, const Value& b, double tolerance) const {
    if (a.inf != 0 || b.inf != 0) return a.inf == b.inf;
    if (!Finite(a.z) || !Finite(b.z)) return false;
    long double scale = std::max(std::abs(a.z), std::abs(b.z));
    return std::abs(a.z - b.z) <= tolerance * scale + 1e-12L;
  }

  // Points at which to evaluate expressions over `symbols`.
  std::vector<Env> Points(const std::set<std::string>& symbols) const {
    std::vector<Env> points;
    if (symbols.empty()) {
      points.emplace_back();
      return points;
    }
    std::mt19937_64 rng(options_.seed);
    std::uniform_real_distribution<double> dist(0.5, 2.5);
    for (int k = 0; k < options_.random_points; ++k) {
      Env env;
      for (const std::string& s : symbols) env.vars.emplace_back(s, Complex(dist(rng), 0));
      points.push_back(std::move(env));
    }
    return points;
  }

  bool ScalarEqual(const Expr& g, const Expr& p) {
    if (!IsScalarTree(g) || !IsScalarTree(p)) return false;
    std::set<std::string> gs, ps;
    CollectSymbols(g, gs);
    CollectSymbols(p, ps);
    if (gs != ps) return false;
    bool decimal = HasDecimal(g) || HasDecimal(p);
    double tolerance = decimal ? options_.decimal_tolerance : options_.tolerance;
    int agreed = 0;
    for (const Env& env : Points(gs)) {
      if (absl::Now() > options_.deadline) return false;
      std::optional<Value> a = Eval(g, env);
      std::optional<Value> b = Eval(p, env);
      if (!a || !b) {
        if (gs.empty()) return false;
        continue;  // a pole or undefined point; try the others
      }
      if (a->exact && b->exact && !decimal) {
        if (a->q != b->q) return false;
      } else if (!Close(*a, *b, tolerance)) {
        return false;
      }
      ++agreed;
    }
    return gs.empty() ? agreed == 1 : agreed >= 3;
  }

  // lhs - rhs of one equation is a non-zero constant multiple of the other's.
  bool EquationsProportional(const Expr& g, const Expr& p) {
    auto difference = [](const Expr& r) {
      Expr d;
      d.kind = Kind::kAdd;
      d.children.push_back(r.children[0]);
      Expr neg;
      neg.kind = Kind::kNeg;
      neg.children.push_back(r.children[1]);
      d.children.push_back(std::move(neg));
      return d;
    };
    Expr dg = difference(g), dp = difference(p);
    if (!IsScalarTree(dg) || !IsScalarTree(dp)) return false;
    std::set<std::string> gs, ps;
    CollectSymbols(dg, gs);
    CollectSymbols(dp, ps);
    if (gs != ps || gs.empty()) return false;
    std::optional<Complex> ratio;
    int agreed = 0;
    for (const Env& env : Points(gs)) {
      std::optional<Value> a = Eval(dg, env), b = Eval(dp, env);
      if (!a || !b || a->inf != 0 || b->inf != 0) continue;
      if (std::abs(b->z) < 1e-12L) {
        if (std::abs(a->z) < 1e-12L) {
          ++agreed;
          continue;
        }
        return false;
      }
      Complex r = a->z / b->z;
      if (std::abs(r) < 1e-12L) return false;
      if (!ratio) {
        ratio = r;
      } else if (std::abs(r - *ratio) > options_.tolerance * std::abs(*ratio) + 1e-12L) {
        return false;
      }
      ++agreed;
    }
    return agreed >= 3;
  }

  const EquivalenceOptions& options_;
  int steps_ = 0;
};

}  // namespace

bool Equivalent(const Expr& gold, const Expr& pred, const EquivalenceOptions& options) {
  Comparer comparer(options);
  return comparer.Equal(ExpandTop(gold), ExpandTop(pred));
}

}  // namespace ponder::reward::internal
