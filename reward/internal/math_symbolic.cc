#include "reward/internal/math_symbolic.h"

#include <gmpxx.h>

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "reward/internal/math_value.h"

namespace ponder::reward::internal {
namespace {

using Kind = Expr::Kind;

constexpr size_t kMaxTerms = 2000;
constexpr long kMaxIntegerPower = 64;
constexpr size_t kMaxCoefficientBits = 2048;

// Atom keys: "v:x" a variable, "c:pi" / "c:e", "p:7" a prime, "i", "o:..." anything else.
using Monomial = std::map<std::string, mpq_class>;  // atom -> non-zero exponent
using Poly = std::map<Monomial, mpq_class>;         // monomial -> non-zero coefficient

struct Form {
  Poly num;
  Poly den;
};

bool IsPositiveAtom(const std::string& key) { return key[0] == 'p' || key[0] == 'c'; }
bool IsOpaque(const std::string& key) { return key[0] == 'o'; }
bool IsVariable(const std::string& key) { return key[0] == 'v'; }

size_t Bits(const mpq_class& q) {
  return mpz_sizeinbase(q.get_num_mpz_t(), 2) + mpz_sizeinbase(q.get_den_mpz_t(), 2);
}

Poly Constant(const mpq_class& q) {
  Poly p;
  if (q != 0) p[Monomial()] = q;
  return p;
}

std::optional<mpq_class> AsConstant(const Poly& p) {
  if (p.empty()) return mpq_class(0);
  if (p.size() == 1 && p.begin()->first.empty()) return p.begin()->second;
  return std::nullopt;
}

// Multiplies `m` (with coefficient `coef`) by atom^exponent, applying i^2 = -1 and moving the
// whole part of a prime's exponent into the coefficient. False when a bound is passed.
bool MultiplyAtom(Monomial& m, mpq_class& coef, const std::string& key, const mpq_class& e) {
  mpq_class total = e;
  auto it = m.find(key);
  if (it != m.end()) total += it->second;
  if (key == "i") {
    if (total.get_den() != 1) return false;
    mpz_class r;
    mpz_fdiv_r_ui(r.get_mpz_t(), total.get_num_mpz_t(), 4);
    unsigned long k = r.get_ui();
    if (k >= 2) coef = -coef;
    total = k % 2;
  } else if (key[0] == 'p') {
    mpz_class whole;
    mpz_fdiv_q(whole.get_mpz_t(), total.get_num_mpz_t(), total.get_den_mpz_t());
    if (whole != 0) {
      if (!whole.fits_slong_p() || abs(whole) > 4096) return false;
      mpz_class prime(key.substr(2), 10), power;
      long w = whole.get_si();
      mpz_pow_ui(power.get_mpz_t(), prime.get_mpz_t(), w < 0 ? -w : w);
      if (w < 0) {
        coef /= power;
      } else {
        coef *= power;
      }
      total -= whole;
    }
  }
  if (total == 0) {
    if (it != m.end()) m.erase(it);
  } else {
    m[key] = total;
  }
  return Bits(coef) <= kMaxCoefficientBits;
}

bool AddTerm(Poly& p, const Monomial& m, const mpq_class& c) {
  if (c == 0) return true;
  auto [it, inserted] = p.emplace(m, c);
  if (!inserted) {
    it->second += c;
    if (it->second == 0) p.erase(it);
  }
  return p.size() <= kMaxTerms;
}

std::optional<Poly> Add(const Poly& a, const Poly& b, const mpq_class& scale = 1) {
  Poly out = a;
  for (const auto& [m, c] : b) {
    if (!AddTerm(out, m, c * scale)) return std::nullopt;
  }
  return out;
}

std::optional<Poly> Multiply(const Poly& a, const Poly& b) {
  if (a.size() * b.size() > kMaxTerms * 4) return std::nullopt;
  Poly out;
  for (const auto& [ma, ca] : a) {
    for (const auto& [mb, cb] : b) {
      Monomial m = ma;
      mpq_class c = ca * cb;
      for (const auto& [key, e] : mb) {
        if (!MultiplyAtom(m, c, key, e)) return std::nullopt;
      }
      if (!AddTerm(out, m, c)) return std::nullopt;
    }
  }
  return out;
}

std::optional<Poly> PowInt(const Poly& base, long n) {
  Poly result = Constant(1);
  Poly square = base;
  while (n > 0) {
    if (n & 1) {
      std::optional<Poly> r = Multiply(result, square);
      if (!r) return std::nullopt;
      result = std::move(*r);
    }
    n >>= 1;
    if (n > 0) {
      std::optional<Poly> s = Multiply(square, square);
      if (!s) return std::nullopt;
      square = std::move(*s);
    }
  }
  return result;
}

// A deterministic text for a form, for the keys of opaque atoms.
std::string Key(const Poly& p) {
  std::string out = "[";
  for (const auto& [m, c] : p) {
    out += c.get_str();
    for (const auto& [key, e] : m) out += "*" + key + "^" + e.get_str();
    out += ";";
  }
  return out + "]";
}

std::string Key(const Form& f) { return Key(f.num) + "/" + Key(f.den); }

// The prime factors of n (> 0) with their multiplicities, by trial division up to 1000 and a
// remaining cofactor below 10^6 (then prime); nullopt for anything larger.
std::optional<std::map<unsigned long, unsigned long>> Factor(mpz_class n) {
  std::map<unsigned long, unsigned long> out;
  for (unsigned long p = 2; p <= 1000 && n > 1; ++p) {
    while (mpz_divisible_ui_p(n.get_mpz_t(), p)) {
      n /= p;
      ++out[p];
    }
  }
  if (n > 1) {
    if (n >= 1000000) return std::nullopt;
    ++out[n.get_ui()];
  }
  return out;
}

class Canonicalizer {
 public:
  std::optional<Form> Convert(const Expr& e);

 private:
  std::optional<Form> Opaque(const std::string& key) {
    Monomial m;
    m["o:" + key] = 1;
    Form f;
    f.num[m] = 1;
    f.den = Constant(1);
    return f;
  }
  std::optional<Form> Power(const Form& base, const Form& exponent, const Expr& e);
  std::optional<Form> RationalPower(const Form& base, const mpq_class& r);
  std::optional<Form> Function(const Expr& e);
};

Form FromPoly(Poly num) {
  Form f;
  f.num = std::move(num);
  f.den = Constant(1);
  return f;
}

std::optional<Form> Canonicalizer::Convert(const Expr& e) {
  switch (e.kind) {
    case Kind::kNumber:
      return FromPoly(Constant(e.number));
    case Kind::kSymbol: {
      Monomial m;
      m["v:" + e.name] = 1;
      return FromPoly(Poly{{m, 1}});
    }
    case Kind::kConstant: {
      if (e.name == "inf") return std::nullopt;
      Monomial m;
      m[e.name == "i" ? "i" : "c:" + e.name] = 1;
      return FromPoly(Poly{{m, 1}});
    }
    case Kind::kNeg: {
      std::optional<Form> f = Convert(e.children[0]);
      if (!f) return std::nullopt;
      for (auto& [m, c] : f->num) c = -c;
      return f;
    }
    case Kind::kAdd: {
      std::optional<Form> sum = FromPoly(Poly());
      for (const Expr& child : e.children) {
        std::optional<Form> f = Convert(child);
        if (!f) return std::nullopt;
        if (f->den == sum->den) {
          std::optional<Poly> n = Add(sum->num, f->num);
          if (!n) return std::nullopt;
          sum->num = std::move(*n);
          continue;
        }
        std::optional<Poly> a = Multiply(sum->num, f->den);
        std::optional<Poly> b = Multiply(f->num, sum->den);
        std::optional<Poly> d = Multiply(sum->den, f->den);
        if (!a || !b || !d) return std::nullopt;
        std::optional<Poly> n = Add(*a, *b);
        if (!n) return std::nullopt;
        sum->num = std::move(*n);
        sum->den = std::move(*d);
      }
      return sum;
    }
    case Kind::kMul: {
      Form product = FromPoly(Constant(1));
      for (const Expr& child : e.children) {
        std::optional<Form> f = Convert(child);
        if (!f) return std::nullopt;
        std::optional<Poly> n = Multiply(product.num, f->num);
        std::optional<Poly> d = Multiply(product.den, f->den);
        if (!n || !d) return std::nullopt;
        product.num = std::move(*n);
        product.den = std::move(*d);
      }
      return product;
    }
    case Kind::kDiv: {
      std::optional<Form> a = Convert(e.children[0]);
      std::optional<Form> b = Convert(e.children[1]);
      if (!a || !b || b->num.empty()) return std::nullopt;
      std::optional<Poly> n = Multiply(a->num, b->den);
      std::optional<Poly> d = Multiply(a->den, b->num);
      if (!n || !d) return std::nullopt;
      return Form{std::move(*n), std::move(*d)};
    }
    case Kind::kPow: {
      std::optional<Form> base = Convert(e.children[0]);
      std::optional<Form> exponent = Convert(e.children[1]);
      if (!base || !exponent) return std::nullopt;
      return Power(*base, *exponent, e);
    }
    case Kind::kPercent: {
      std::optional<Form> f = Convert(e.children[0]);
      if (!f) return std::nullopt;
      for (auto& [m, c] : f->num) c /= 100;
      return f;
    }
    case Kind::kFunc:
      return Function(e);
    default:
      return std::nullopt;
  }
}

std::optional<Form> Canonicalizer::Power(const Form& base, const Form& exponent, const Expr& e) {
  std::optional<mpq_class> en = AsConstant(exponent.num);
  std::optional<mpq_class> ed = AsConstant(exponent.den);
  if (!en || !ed || *ed == 0) {
    return Opaque("pow(" + Key(base) + "," + Key(exponent) + ")");
  }
  mpq_class r = *en / *ed;
  if (r.get_den() == 1) {
    if (!r.get_num().fits_slong_p()) return std::nullopt;
    long n = r.get_num().get_si();
    if (n > kMaxIntegerPower || n < -kMaxIntegerPower) return std::nullopt;
    if (n < 0 && base.num.empty()) return std::nullopt;  // 0^-n
    std::optional<Poly> num = PowInt(n < 0 ? base.den : base.num, n < 0 ? -n : n);
    std::optional<Poly> den = PowInt(n < 0 ? base.num : base.den, n < 0 ? -n : n);
    if (!num || !den) return std::nullopt;
    return Form{std::move(*num), std::move(*den)};
  }
  std::optional<Form> root = RationalPower(base, r);
  if (root) return root;
  (void)e;
  return Opaque("pow(" + Key(base) + "," + r.get_str() + ")");
}

// base^r for a non-integer rational r, when base is one monomial over another and the
// identity (a*b)^r = a^r * b^r holds for every value of its variables (see the header).
std::optional<Form> Canonicalizer::RationalPower(const Form& base, const mpq_class& r) {
  if (base.num.size() != 1 || base.den.size() != 1) return std::nullopt;
  if (r.get_den() > 1000 || abs(r.get_num()) > 1000) return std::nullopt;
  Monomial m = base.num.begin()->first;
  mpq_class coef = base.num.begin()->second / base.den.begin()->second;
  mpq_class dummy = 1;
  for (const auto& [key, e] : base.den.begin()->first) {
    if (!MultiplyAtom(m, dummy, key, -e)) return std::nullopt;
  }
  coef *= dummy;
  bool odd_root = mpz_odd_p(r.get_den_mpz_t());
  int unknown_sign = 0;
  for (const auto& [key, e] : m) {
    if (key == "i") return std::nullopt;
    if (IsPositiveAtom(key)) continue;
    if (!odd_root && e != 1) return std::nullopt;  // (x^2)^{1/2} is |x|
    ++unknown_sign;
  }
  if (!odd_root && unknown_sign > 1) return std::nullopt;  // sqrt(xy) != sqrt(x) sqrt(y)
  Monomial out;
  mpq_class out_coef = 1;
  for (const auto& [key, e] : m) {
    if (!MultiplyAtom(out, out_coef, key, e * r)) return std::nullopt;
  }
  if (coef < 0) {
    if (odd_root) {
      if (mpz_odd_p(r.get_num_mpz_t())) out_coef = -out_coef;
    } else {
      if (unknown_sign > 0 || r.get_den() != 2) return std::nullopt;
      // (-a)^{p/2} = i^p a^{p/2}.
      if (!MultiplyAtom(out, out_coef, "i", r.get_num())) return std::nullopt;
    }
    coef = -coef;
  }
  // coef^r through its prime factors.
  for (int part = 0; part < 2; ++part) {
    const mpz_class& n = part == 0 ? coef.get_num() : coef.get_den();
    std::optional<std::map<unsigned long, unsigned long>> factors = Factor(n);
    if (!factors) return std::nullopt;
    for (const auto& [prime, count] : *factors) {
      mpq_class e = r * count;
      if (part == 1) e = -e;
      if (!MultiplyAtom(out, out_coef, "p:" + std::to_string(prime), e)) return std::nullopt;
    }
  }
  Form f;
  f.num[out] = out_coef;
  f.den = Constant(1);
  return f;
}

std::optional<Form> Canonicalizer::Function(const Expr& e) {
  const std::string& name = e.name;
  if (name == "sqrt") {
    std::optional<Form> x = Convert(e.children[0]);
    if (!x) return std::nullopt;
    mpq_class index = 2;
    if (e.children.size() > 1) {
      std::optional<Form> n = Convert(e.children[1]);
      if (!n) return std::nullopt;
      std::optional<mpq_class> nn = AsConstant(n->num), nd = AsConstant(n->den);
      if (!nn || !nd || *nd == 0 || *nn == 0) return std::nullopt;
      index = *nn / *nd;
    }
    return Power(*x, FromPoly(Constant(1 / index)), e);
  }
  if (name == "exp") {
    std::optional<Form> x = Convert(e.children[0]);
    if (!x) return std::nullopt;
    Monomial m;
    m["c:e"] = 1;
    return Power(FromPoly(Poly{{m, 1}}), *x, e);
  }
  std::string key = name + "(";
  std::vector<Form> args;
  for (const Expr& child : e.children) {
    std::optional<Form> f = Convert(child);
    if (!f) return std::nullopt;
    key += Key(*f) + ",";
    args.push_back(std::move(*f));
  }
  // Functions of rational constants with exact values (|-3|, 5!, \binom{5}{2}, floor).
  bool all_constant = true;
  for (const Form& f : args) {
    all_constant = all_constant && AsConstant(f.num) && AsConstant(f.den);
  }
  if (all_constant && (name == "abs" || name == "factorial" || name == "binom" || name == "floor" ||
                       name == "ceil")) {
    std::optional<Value> v = Evaluate(e, Point());
    if (v && v->exact) return FromPoly(Constant(*v->exact));
  }
  return Opaque(key + ")");
}

std::optional<Poly> CrossDifference(const Form& a, const Form& b, const mpq_class& scale,
                                    Poly* left, Poly* right) {
  std::optional<Poly> l = Multiply(a.num, b.den);
  std::optional<Poly> r = Multiply(b.num, a.den);
  if (!l || !r) return std::nullopt;
  if (left != nullptr) *left = *l;
  if (right != nullptr) *right = *r;
  return Add(*l, *r, -scale);
}

bool HasAtom(const Poly& p, bool (*predicate)(const std::string&)) {
  for (const auto& [m, c] : p) {
    for (const auto& [key, e] : m) {
      if (predicate(key)) return true;
    }
  }
  return false;
}

}  // namespace

SymbolicVerdict CompareSymbolic(const Expr& gold, const Expr& pred) {
  Canonicalizer canon;
  std::optional<Form> g = canon.Convert(gold);
  if (!g) return SymbolicVerdict::kUnknown;
  std::optional<Form> p = canon.Convert(pred);
  if (!p) return SymbolicVerdict::kUnknown;
  std::optional<Poly> diff = CrossDifference(*g, *p, 1, nullptr, nullptr);
  if (!diff) return SymbolicVerdict::kUnknown;
  if (diff->empty()) return SymbolicVerdict::kEqual;
  return HasAtom(*diff, IsOpaque) ? SymbolicVerdict::kUnknown : SymbolicVerdict::kDifferent;
}

SymbolicVerdict CompareProportional(const Expr& gold_difference, const Expr& pred_difference,
                                    int* sign) {
  Canonicalizer canon;
  std::optional<Form> g = canon.Convert(gold_difference);
  if (!g) return SymbolicVerdict::kUnknown;
  std::optional<Form> p = canon.Convert(pred_difference);
  if (!p) return SymbolicVerdict::kUnknown;
  Poly a, b;
  if (!CrossDifference(*g, *p, 1, &a, &b)) return SymbolicVerdict::kUnknown;
  // Decided only over plain variables: with radicals or constants in play the factor may be
  // irrational (sqrt(2) x = 2 is x = sqrt(2)).
  bool plain = !HasAtom(a, [](const std::string& k) { return !IsVariable(k); }) &&
               !HasAtom(b, [](const std::string& k) { return !IsVariable(k); });
  if (a.empty() || b.empty()) {
    if (a.empty() && b.empty()) return SymbolicVerdict::kUnknown;  // 0 = 0 on both sides
    return plain ? SymbolicVerdict::kDifferent : SymbolicVerdict::kUnknown;
  }
  const auto& [monomial, coefficient] = *b.begin();
  auto it = a.find(monomial);
  if (it == a.end()) return plain ? SymbolicVerdict::kDifferent : SymbolicVerdict::kUnknown;
  mpq_class scale = it->second / coefficient;
  std::optional<Poly> rest = Add(a, b, -scale);
  if (!rest) return SymbolicVerdict::kUnknown;
  if (rest->empty()) {
    // g.num * p.den = scale * p.num * g.den, so g = scale * p.
    *sign = scale > 0 ? 1 : -1;
    return SymbolicVerdict::kEqual;
  }
  return plain ? SymbolicVerdict::kDifferent : SymbolicVerdict::kUnknown;
}

}  // namespace ponder::reward::internal
