#include "reward/internal/math_value.h"

#include <cmath>

namespace ponder::reward::internal {
namespace {

using Kind = Expr::Kind;

constexpr long double kPi = 3.141592653589793238462643383279502884L;
constexpr long double kE = 2.718281828459045235360287471352662498L;

bool Finite(const Complex& z) { return std::isfinite(z.real()) && std::isfinite(z.imag()); }

size_t Bits(const mpq_class& q) {
  return mpz_sizeinbase(q.get_num_mpz_t(), 2) + mpz_sizeinbase(q.get_den_mpz_t(), 2);
}

Value Exact(mpq_class q) {
  Value v;
  v.z = Complex(q.get_d(), 0);
  // get_d loses range for huge values: recompute through long double when needed.
  if (!std::isfinite(static_cast<double>(v.z.real())) || Bits(q) > 1000) {
    long exp_num = 0, exp_den = 0;
    double n = mpz_get_d_2exp(&exp_num, q.get_num_mpz_t());
    double d = mpz_get_d_2exp(&exp_den, q.get_den_mpz_t());
    v.z = Complex(std::ldexp(static_cast<long double>(n) / d, exp_num - exp_den), 0);
  }
  v.exact = std::move(q);
  return v;
}

std::optional<Value> Numeric(Complex z) {
  if (!Finite(z)) return std::nullopt;  // overflow or an undefined value
  Value v;
  v.z = z;
  return v;
}

Value Infinite(int sign) {
  Value v;
  v.inf = sign;
  return v;
}

// Exact p-th root of a non-negative integer, when it is one.
std::optional<mpz_class> ExactRootZ(const mpz_class& v, unsigned long p) {
  mpz_class r;
  if (mpz_root(r.get_mpz_t(), v.get_mpz_t(), p) == 0) return std::nullopt;
  return r;
}

std::optional<mpq_class> ExactRoot(const mpq_class& q, unsigned long p) {
  if (q < 0) {
    if (p % 2 == 0) return std::nullopt;
    std::optional<mpq_class> r = ExactRoot(-q, p);
    if (!r) return std::nullopt;
    return mpq_class(-*r);
  }
  std::optional<mpz_class> n = ExactRootZ(q.get_num(), p);
  std::optional<mpz_class> d = ExactRootZ(q.get_den(), p);
  if (!n || !d) return std::nullopt;
  return mpq_class(*n, *d);
}

std::optional<mpq_class> ExactPowInt(const mpq_class& base, long n) {
  if (n < 0) {
    if (base == 0) return std::nullopt;
    std::optional<mpq_class> p = ExactPowInt(base, -n);
    if (!p) return std::nullopt;
    return mpq_class(1 / *p);
  }
  if (base == 0 || base == 1) return base;
  if (base == -1) return mpq_class(n % 2 == 0 ? 1 : -1);
  // log2 of the result, from the sizes of numerator and denominator.
  long double log2 =
      mpz_sizeinbase(base.get_num_mpz_t(), 2) + mpz_sizeinbase(base.get_den_mpz_t(), 2);
  if (log2 * n > kMaxExactBits + 2.0L * n) return std::nullopt;
  mpz_class num, den;
  mpz_pow_ui(num.get_mpz_t(), base.get_num_mpz_t(), n);
  mpz_pow_ui(den.get_mpz_t(), base.get_den_mpz_t(), n);
  return mpq_class(num, den);
}

std::optional<Value> Power(const Value& base, const Value& exponent) {
  if (base.inf != 0 || exponent.inf != 0) return std::nullopt;
  if (exponent.exact) {
    const mpq_class& p = *exponent.exact;
    if (p.get_den() == 1 && p.get_num().fits_slong_p()) {
      long n = p.get_num().get_si();
      if (base.exact) {
        if (std::optional<mpq_class> q = ExactPowInt(*base.exact, n)) return Exact(*q);
        if (*base.exact == 0) return std::nullopt;  // 0^-n
      }
      if (base.z == Complex(0, 0)) return n > 0 ? std::optional<Value>(Exact(0)) : std::nullopt;
      return Numeric(std::pow(base.z, static_cast<long double>(n)));
    }
    if (p.get_den().fits_ulong_p() && p.get_num().fits_slong_p() && p.get_den() <= 1000) {
      unsigned long q = p.get_den().get_ui();
      long num = p.get_num().get_si();
      if (base.exact) {
        if (std::optional<mpq_class> root = ExactRoot(*base.exact, q)) {
          if (std::optional<mpq_class> r = ExactPowInt(*root, num)) return Exact(*r);
        }
      }
      // The real odd root of a negative real: (-8)^{1/3} = -2, x^{2/3} at x < 0.
      if (base.is_real() && base.z.real() < 0 && q % 2 == 1) {
        long double root = -std::pow(-base.z.real(), 1.0L / q);
        return Numeric(Complex(std::pow(root, static_cast<long double>(num)), 0));
      }
    }
  }
  if (base.z == Complex(0, 0)) {
    if (exponent.z.real() > 0) return Exact(0);
    return std::nullopt;
  }
  return Numeric(std::pow(base.z, exponent.z));
}

std::optional<Value> Factorial(const Value& x) {
  if (x.exact && x.exact->get_den() == 1 && *x.exact >= 0 && *x.exact <= 400) {
    mpz_class r;
    mpz_fac_ui(r.get_mpz_t(), x.exact->get_num().get_ui());
    return Exact(mpq_class(r));
  }
  if (x.exact && x.exact->get_den() == 1) return std::nullopt;  // huge or negative
  if (!x.is_real() || x.z.real() < 0) return std::nullopt;
  return Numeric(Complex(std::tgamma(x.z.real() + 1), 0));
}

std::optional<Value> Binomial(const Value& n, const Value& k) {
  if (!n.exact || !k.exact || n.exact->get_den() != 1 || k.exact->get_den() != 1) {
    // Through the gamma function: n! / (k! (n - k)!).
    if (!n.is_real() || !k.is_real()) return std::nullopt;
    long double a = n.z.real(), b = k.z.real();
    return Numeric(Complex(std::tgamma(a + 1) / (std::tgamma(b + 1) * std::tgamma(a - b + 1)), 0));
  }
  if (*n.exact < 0 || *n.exact > 100000 || *k.exact < 0) return std::nullopt;
  if (*k.exact > *n.exact) return Exact(0);
  mpz_class r;
  mpz_bin_uiui(r.get_mpz_t(), n.exact->get_num().get_ui(), k.exact->get_num().get_ui());
  if (mpz_sizeinbase(r.get_mpz_t(), 2) > kMaxExactBits) return std::nullopt;
  return Exact(mpq_class(r));
}

std::optional<Value> Rounded(const Value& x, bool up) {
  if (x.exact) {
    mpz_class r;
    if (up) {
      mpz_cdiv_q(r.get_mpz_t(), x.exact->get_num_mpz_t(), x.exact->get_den_mpz_t());
    } else {
      mpz_fdiv_q(r.get_mpz_t(), x.exact->get_num_mpz_t(), x.exact->get_den_mpz_t());
    }
    return Exact(mpq_class(r));
  }
  if (!x.is_real()) return std::nullopt;
  long double r = up ? std::ceil(x.z.real()) : std::floor(x.z.real());
  // An integer computed from an approximation is only trusted away from the boundary.
  if (std::abs(x.z.real() - std::round(x.z.real())) < 1e-9L) return std::nullopt;
  if (std::abs(r) > 1e15L) return std::nullopt;
  return Exact(mpq_class(static_cast<double>(r)));
}

std::optional<Value> EvalFunc(const Expr& e, const Point& at) {
  std::vector<Value> args;
  for (const Expr& child : e.children) {
    std::optional<Value> v = Evaluate(child, at);
    if (!v) return std::nullopt;
    args.push_back(std::move(*v));
  }
  if (args.empty()) return std::nullopt;
  const Value& x = args[0];
  const std::string& f = e.name;
  if (f == "sqrt") {
    Value index = args.size() > 1 ? args[1] : Exact(2);
    if (index.exact && *index.exact != 0) return Power(x, Exact(1 / *index.exact));
    if (index.inf != 0 || index.z == Complex(0, 0)) return std::nullopt;
    std::optional<Value> inverse = Numeric(Complex(1, 0) / index.z);
    return inverse ? Power(x, *inverse) : std::nullopt;
  }
  if (f == "binom") return args.size() == 2 ? Binomial(args[0], args[1]) : std::nullopt;
  if (x.inf != 0) {
    if (f == "abs") return Infinite(1);
    if ((f == "exp" || f == "ln" || f == "log") && x.inf > 0) return Infinite(1);
    return std::nullopt;
  }
  if (f == "abs") {
    if (x.exact) return Exact(abs(*x.exact));
    return Numeric(Complex(std::abs(x.z), 0));
  }
  if (f == "factorial") return Factorial(x);
  if (f == "floor" || f == "ceil") return Rounded(x, f == "ceil");
  if (f == "log" && args.size() > 1) {
    if (args[1].inf != 0 || x.z == Complex(0, 0)) return std::nullopt;
    return Numeric(std::log(x.z) / std::log(args[1].z));
  }
  const Complex z = x.z;
  if ((f == "ln" || f == "log" || f == "lg") && z == Complex(0, 0)) return std::nullopt;
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

std::optional<Value> EvalSum(const Expr& e, const Point& at) {
  Value sum = Exact(0);
  int inf = 0;
  for (const Expr& child : e.children) {
    std::optional<Value> v = Evaluate(child, at);
    if (!v) return std::nullopt;
    if (v->inf != 0) {
      if (inf != 0 && inf != v->inf) return std::nullopt;  // inf - inf
      inf = v->inf;
      continue;
    }
    if (sum.exact && v->exact) {
      mpq_class q = *sum.exact + *v->exact;
      if (Bits(q) <= kMaxExactBits) {
        sum = Exact(std::move(q));
        continue;
      }
    }
    std::optional<Value> next = Numeric(sum.z + v->z);
    if (!next) return std::nullopt;
    sum = *next;
  }
  return inf != 0 ? Infinite(inf) : sum;
}

std::optional<Value> EvalProduct(const Expr& e, const Point& at) {
  Value product = Exact(1);
  bool infinite = false, negative = false;
  for (const Expr& child : e.children) {
    std::optional<Value> v = Evaluate(child, at);
    if (!v) return std::nullopt;
    if (v->inf != 0) {
      infinite = true;
      if (v->inf < 0) negative = !negative;
      continue;
    }
    if (product.exact && v->exact) {
      mpq_class q = *product.exact * *v->exact;
      if (Bits(q) <= kMaxExactBits) {
        product = Exact(std::move(q));
        continue;
      }
    }
    std::optional<Value> next = Numeric(product.z * v->z);
    if (!next) return std::nullopt;
    product = *next;
  }
  if (!infinite) return product;
  // Infinity times a non-zero real number.
  if (!product.is_real() || product.z.real() == 0) return std::nullopt;
  if (product.z.real() < 0) negative = !negative;
  return Infinite(negative ? -1 : 1);
}

std::optional<Value> EvalQuotient(const Value& a, const Value& b) {
  if (b.inf != 0) return a.inf != 0 ? std::nullopt : std::optional<Value>(Exact(0));
  if (b.z == Complex(0, 0)) return std::nullopt;
  if (a.inf != 0) {
    if (!b.is_real()) return std::nullopt;
    return Infinite((b.z.real() > 0) == (a.inf > 0) ? 1 : -1);
  }
  if (a.exact && b.exact) {
    mpq_class q = *a.exact / *b.exact;
    if (Bits(q) <= kMaxExactBits) return Exact(std::move(q));
  }
  return Numeric(a.z / b.z);
}

}  // namespace

const Complex* Point::Find(const std::string& name) const {
  for (const auto& [n, v] : vars) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::optional<Value> Evaluate(const Expr& e, const Point& at) {
  switch (e.kind) {
    case Kind::kNumber:
      return Exact(e.number);
    case Kind::kConstant:
      if (e.name == "pi") return Numeric(Complex(kPi, 0));
      if (e.name == "e") return Numeric(Complex(kE, 0));
      if (e.name == "i") return Numeric(Complex(0, 1));
      return Infinite(1);
    case Kind::kSymbol: {
      const Complex* z = at.Find(e.name);
      if (z == nullptr) return std::nullopt;
      return Numeric(*z);
    }
    case Kind::kNeg: {
      std::optional<Value> v = Evaluate(e.children[0], at);
      if (!v) return std::nullopt;
      if (v->inf != 0) return Infinite(-v->inf);
      if (v->exact) return Exact(-*v->exact);
      return Numeric(-v->z);
    }
    case Kind::kAdd:
      return EvalSum(e, at);
    case Kind::kMul:
      return EvalProduct(e, at);
    case Kind::kDiv: {
      std::optional<Value> a = Evaluate(e.children[0], at);
      if (!a) return std::nullopt;
      std::optional<Value> b = Evaluate(e.children[1], at);
      if (!b) return std::nullopt;
      return EvalQuotient(*a, *b);
    }
    case Kind::kPow: {
      std::optional<Value> a = Evaluate(e.children[0], at);
      if (!a) return std::nullopt;
      std::optional<Value> b = Evaluate(e.children[1], at);
      if (!b) return std::nullopt;
      return Power(*a, *b);
    }
    case Kind::kFunc:
      return EvalFunc(e, at);
    case Kind::kPercent: {
      std::optional<Value> v = Evaluate(e.children[0], at);
      if (!v || v->inf != 0) return std::nullopt;
      return EvalQuotient(*v, Exact(100));
    }
    default:
      return std::nullopt;
  }
}

bool IsScalar(const Expr& e) {
  switch (e.kind) {
    case Kind::kList:
    case Kind::kMatrix:
    case Kind::kRelation:
    case Kind::kRatio:
    case Kind::kUnion:
    case Kind::kText:
    case Kind::kPlusMinus:
      return false;
    default:
      break;
  }
  for (const Expr& c : e.children) {
    if (!IsScalar(c)) return false;
  }
  return true;
}

bool HasDecimal(const Expr& e) {
  if (e.kind == Kind::kNumber && e.decimal) return true;
  for (const Expr& c : e.children) {
    if (HasDecimal(c)) return true;
  }
  return false;
}

}  // namespace ponder::reward::internal
