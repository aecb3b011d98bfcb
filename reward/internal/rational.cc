#include "reward/internal/rational.h"

#include <cmath>
#include <limits>

namespace ponder::reward::internal {
namespace {

constexpr __int128 kMax = std::numeric_limits<int64_t>::max();

__int128 Abs(__int128 v) { return v < 0 ? -v : v; }

__int128 Gcd(__int128 a, __int128 b) {
  a = Abs(a);
  b = Abs(b);
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Largest r with r^k <= v (v >= 0), found by Newton-free binary search on a double guess.
std::optional<int64_t> ExactIntRoot(int64_t v, int64_t k) {
  if (v < 0) return std::nullopt;
  if (v < 2) return v;
  long double guess = std::pow(static_cast<long double>(v), 1.0L / static_cast<long double>(k));
  int64_t r = static_cast<int64_t>(std::llround(guess));
  for (int64_t c = std::max<int64_t>(0, r - 2); c <= r + 2; ++c) {
    __int128 p = 1;
    bool over = false;
    for (int64_t i = 0; i < k && !over; ++i) {
      p *= c;
      if (p > kMax) over = true;
    }
    if (!over && p == v) return c;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Rational> Rational::Make(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  __int128 g = Gcd(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  if (Abs(num) > kMax || den > kMax) return std::nullopt;
  return Rational(static_cast<int64_t>(num), static_cast<int64_t>(den));
}

std::optional<Rational> Rational::FromDecimal(const std::string& digits) {
  __int128 num = 0;
  __int128 den = 1;
  bool after_point = false;
  int count = 0;
  for (char c : digits) {
    if (c == '.') {
      if (after_point) return std::nullopt;
      after_point = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (++count > 36) return std::nullopt;  // stays well inside 128 bits
    num = num * 10 + (c - '0');
    if (after_point) den *= 10;
  }
  if (count == 0) return std::nullopt;
  return Make(num, den);
}

std::string Rational::ToString() const {
  if (den_ == 1) return std::to_string(num_);
  return std::to_string(num_) + "/" + std::to_string(den_);
}

std::optional<Rational> Add(const Rational& a, const Rational& b) {
  return Rational::Make(
      static_cast<__int128>(a.num()) * b.den() + static_cast<__int128>(b.num()) * a.den(),
      static_cast<__int128>(a.den()) * b.den());
}

std::optional<Rational> Sub(const Rational& a, const Rational& b) {
  return Rational::Make(
      static_cast<__int128>(a.num()) * b.den() - static_cast<__int128>(b.num()) * a.den(),
      static_cast<__int128>(a.den()) * b.den());
}

std::optional<Rational> Mul(const Rational& a, const Rational& b) {
  // Cross-reduce first so that products of reduced fractions stay small.
  __int128 g1 = Gcd(a.num(), b.den());
  __int128 g2 = Gcd(b.num(), a.den());
  if (g1 == 0) g1 = 1;
  if (g2 == 0) g2 = 1;
  return Rational::Make((a.num() / g1) * (b.num() / g2), (a.den() / g2) * (b.den() / g1));
}

std::optional<Rational> Div(const Rational& a, const Rational& b) {
  if (b.is_zero()) return std::nullopt;
  return Rational::Make(static_cast<__int128>(a.num()) * b.den(),
                        static_cast<__int128>(a.den()) * b.num());
}

std::optional<Rational> Neg(const Rational& a) { return Rational::Make(-a.num(), a.den()); }

std::optional<Rational> PowInt(const Rational& a, int64_t e) {
  if (e < 0) {
    if (a.is_zero()) return std::nullopt;
    std::optional<Rational> inverse = Rational::Make(a.den(), a.num());
    if (!inverse) return std::nullopt;
    if (e == std::numeric_limits<int64_t>::min()) return std::nullopt;
    return PowInt(*inverse, -e);
  }
  if (e > 256 && a.num() != 0 && a.num() != 1 && a.num() != -1) return std::nullopt;
  Rational result(1);
  Rational base = a;
  while (e > 0) {
    if (e & 1) {
      std::optional<Rational> r = Mul(result, base);
      if (!r) return std::nullopt;
      result = *r;
    }
    e >>= 1;
    if (e > 0) {
      std::optional<Rational> b = Mul(base, base);
      if (!b) return std::nullopt;
      base = *b;
    }
  }
  return result;
}

std::optional<Rational> ExactRoot(const Rational& a, int64_t k) {
  if (k < 1) return std::nullopt;
  if (k == 1) return a;
  bool negative = a.num() < 0;
  if (negative && k % 2 == 0) return std::nullopt;
  std::optional<int64_t> n = ExactIntRoot(negative ? -a.num() : a.num(), k);
  std::optional<int64_t> d = ExactIntRoot(a.den(), k);
  if (!n || !d) return std::nullopt;
  return Rational::Make(negative ? -*n : *n, *d);
}

}  // namespace ponder::reward::internal
