// Exact rational numbers with 64-bit numerator and denominator, computed through 128-bit
// intermediates. An operation whose exact result does not fit reports overflow (the caller
// then falls back to floating point), so a result is either exact or absent, never rounded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ponder::reward::internal {

class Rational {
 public:
  Rational() = default;
  explicit Rational(int64_t integer) : num_(integer), den_(1) {}

  // num/den reduced to lowest terms with den > 0; nullopt when den == 0 or it does not fit.
  static std::optional<Rational> Make(__int128 num, __int128 den);
  // Reads an unsigned decimal "123", "1.25", ".5", "12." exactly; nullopt when too long.
  static std::optional<Rational> FromDecimal(const std::string& digits);

  int64_t num() const { return num_; }
  int64_t den() const { return den_; }
  bool is_integer() const { return den_ == 1; }
  bool is_zero() const { return num_ == 0; }
  long double ToLongDouble() const {
    return static_cast<long double>(num_) / static_cast<long double>(den_);
  }
  std::string ToString() const;  // "3", "-7/2"

  friend bool operator==(const Rational& a, const Rational& b) {
    return a.num_ == b.num_ && a.den_ == b.den_;
  }
  friend bool operator!=(const Rational& a, const Rational& b) { return !(a == b); }

 private:
  Rational(int64_t num, int64_t den) : num_(num), den_(den) {}
  int64_t num_ = 0;
  int64_t den_ = 1;
};

std::optional<Rational> Add(const Rational& a, const Rational& b);
std::optional<Rational> Sub(const Rational& a, const Rational& b);
std::optional<Rational> Mul(const Rational& a, const Rational& b);
std::optional<Rational> Div(const Rational& a, const Rational& b);  // nullopt for b == 0
std::optional<Rational> Neg(const Rational& a);
// a^e for an integer exponent (negative allowed when a != 0).
std::optional<Rational> PowInt(const Rational& a, int64_t e);
// The exact k-th root when a is a perfect k-th power of a rational (sqrt(9/4) = 3/2).
std::optional<Rational> ExactRoot(const Rational& a, int64_t k);

}  // namespace ponder::reward::internal
