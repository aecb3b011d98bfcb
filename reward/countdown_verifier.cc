#include "reward/countdown_verifier.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/answer_extraction.h"
#include "reward/internal/rational.h"

namespace ponder::reward {
namespace {

using internal::Rational;

// A recursive-descent evaluator for + - * / and parentheses over integers, exact.
class ArithmeticParser {
 public:
  explicit ArithmeticParser(std::string text) : s_(std::move(text)) {}

  // The value, and the integers used (in order); an error message otherwise.
  std::optional<Rational> Run(std::vector<int64_t>& numbers, std::string& error) {
    std::optional<Rational> v = Sum();
    SkipSpace();
    if (v && pos_ < s_.size()) Fail(absl::StrCat("unexpected '", s_.substr(pos_, 1), "'"));
    numbers = numbers_;
    error = error_;
    return error_.empty() ? v : std::nullopt;
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  std::optional<Rational> Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return std::nullopt;
  }
  // '+', '-', '*', '/' or 0; reads LaTeX and Unicode spellings of * and /.
  char PeekOp() {
    SkipSpace();
    if (pos_ >= s_.size()) return 0;
    char c = s_[pos_];
    if (c == '+' || c == '-' || c == '*' || c == '/' || c == 'x') return c == 'x' ? '*' : c;
    auto at = [&](const char* w) { return s_.compare(pos_, std::strlen(w), w) == 0; };
    if (at("\\times") || at("\\cdot") || at("\xc3\x97") || at("\xc2\xb7")) return '*';
    if (at("\\div") || at("\xc3\xb7")) return '/';
    return 0;
  }
  void SkipOp() {
    char c = s_[pos_];
    if (c == '\\') {
      ++pos_;
      while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      pos_ += 2;
    } else {
      ++pos_;
    }
  }
  std::optional<Rational> Sum() {
    std::optional<Rational> v = Product();
    while (v) {
      char op = PeekOp();
      if (op != '+' && op != '-') break;
      SkipOp();
      std::optional<Rational> r = Product();
      if (!r) return std::nullopt;
      v = op == '+' ? internal::Add(*v, *r) : internal::Sub(*v, *r);
      if (!v) return Fail("a value is too large");
    }
    return v;
  }
  std::optional<Rational> Product() {
    std::optional<Rational> v = Unary();
    while (v) {
      char op = PeekOp();
      if (op != '*' && op != '/') break;
      SkipOp();
      std::optional<Rational> r = Unary();
      if (!r) return std::nullopt;
      if (op == '/' && r->is_zero()) return Fail("division by zero");
      v = op == '*' ? internal::Mul(*v, *r) : internal::Div(*v, *r);
      if (!v) return Fail("a value is too large");
    }
    return v;
  }
  std::optional<Rational> Unary() {
    if (++depth_ > 100) return Fail("nested too deeply");
    SkipSpace();
    std::optional<Rational> v;
    if (pos_ < s_.size() && s_[pos_] == '-') {
      ++pos_;
      std::optional<Rational> inner = Unary();
      v = inner ? internal::Neg(*inner) : std::nullopt;
    } else {
      v = Atom();
    }
    --depth_;
    return v;
  }
  std::optional<Rational> Atom() {
    SkipSpace();
    if (pos_ >= s_.size()) return Fail("expression ends early");
    char c = s_[pos_];
    if (c == '(' || c == '[' || c == '{') {
      char close = c == '(' ? ')' : c == '[' ? ']' : '}';
      ++pos_;
      std::optional<Rational> v = Sum();
      SkipSpace();
      if (!v) return std::nullopt;
      if (pos_ >= s_.size() || s_[pos_] != close)
        return Fail(absl::StrCat("missing '", std::string(1, close), "'"));
      ++pos_;
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t n = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (n > 100000000000LL) return Fail("a number is too large");
        n = n * 10 + (s_[pos_++] - '0');
      }
      numbers_.push_back(n);
      return Rational(n);
    }
    return Fail(absl::StrCat("unexpected '", s_.substr(pos_, 1), "'"));
  }

  std::string s_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::vector<int64_t> numbers_;
  std::string error_;
};

}  // namespace

void CountdownOptions::Bind(config::Binder& b) {
  b.Field("correct_score", correct_score);
  b.Field("format_score", format_score);
  b.Field("use_all_numbers", use_all_numbers);
  b.Field("tag", tag).NotEmpty();
}

absl::StatusOr<std::unique_ptr<CountdownVerifier>> CountdownVerifier::Create(
    const Options& options) {
  return std::unique_ptr<CountdownVerifier>(new CountdownVerifier(options));
}

absl::StatusOr<VerifyResult> CountdownVerifier::Score(const VerifyInput& input) const {
  const nlohmann::json& truth = input.ground_truth;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("countdown: ground_truth must be {\"numbers\": [integers], \"target\": "
                     "integer}; ",
                     why, " in ", truth.dump().substr(0, 80)));
  };
  if (!truth.is_object()) return bad("it is not an object");
  if (!truth.contains("numbers") || !truth["numbers"].is_array() || truth["numbers"].empty()) {
    return bad("\"numbers\" is missing or not a non-empty list");
  }
  if (!truth.contains("target") || !truth["target"].is_number_integer()) {
    return bad("\"target\" is missing or not an integer");
  }
  std::vector<int64_t> given;
  for (const auto& n : truth["numbers"]) {
    if (!n.is_number_integer()) return bad("a number is not an integer");
    given.push_back(n.get<int64_t>());
  }
  const int64_t target = truth["target"].get<int64_t>();

  VerifyResult result;
  result.correct = false;
  std::optional<std::string_view> found = LastTagged(input.response, options_.tag);
  if (!found) found = LastBoxed(input.response);
  if (!found) {
    std::string_view text = Trim(input.response);
    size_t nl = text.rfind('\n');
    found = Trim(nl == std::string_view::npos ? text : text.substr(nl + 1));
  }
  std::string expression(*found);
  size_t eq = expression.find('=');
  if (eq != std::string::npos) expression = expression.substr(0, eq);  // "(1+2)*8 = 24"
  result.details["expression"] = expression;
  if (Trim(expression).empty()) {
    result.details["reason"] = "no expression";
    return result;
  }
  std::vector<int64_t> used;
  std::string error;
  std::optional<Rational> value = ArithmeticParser(expression).Run(used, error);
  if (!value) {
    result.details["reason"] = absl::StrCat("not an arithmetic expression: ", error);
    return result;
  }
  result.details["value"] = value->ToString();
  result.score = options_.format_score;
  std::vector<int64_t> want = given, have = used;
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  bool numbers_ok = options_.use_all_numbers
                        ? want == have
                        : std::includes(want.begin(), want.end(), have.begin(), have.end());
  if (!numbers_ok) {
    result.details["reason"] =
        absl::StrCat("uses [", absl::StrJoin(used, ", "), "] but the numbers are [",
                     absl::StrJoin(given, ", "), "]");
    return result;
  }
  if (!(*value == Rational(target))) {
    result.details["reason"] = absl::StrCat("evaluates to ", value->ToString(), ", not ", target);
    return result;
  }
  result.correct = true;
  result.score = options_.correct_score;
  return result;
}

}  // namespace ponder::reward
