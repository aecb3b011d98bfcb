// The `arithmetic` built-in task (see builtin_task.h).
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/internal/random.h"
#include "trainer/internal/tasks.h"

namespace ponder::trainer::internal {
namespace {

std::string Padded(int64_t value, int64_t width) {
  std::string digits = std::to_string(value);
  if (static_cast<int64_t>(digits.size()) < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

int64_t Pow10(int64_t n) {
  int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// Width of the zero-padded answer for operator `op` with level-L operands.
int64_t AnswerWidth(char op, int64_t level) {
  switch (op) {
    case '+':
      return level + 1;
    case '-':
      return level;
    default:
      return 2 * level;
  }
}

// A worked column sum or difference (a >= b for '-'), least significant digit first, and its
// answer digits. Addition: "7+8=15,5+6+1=12,4+7+1=12" -> "1225". Subtraction with borrows:
// "5-6-1=-2+10=8". A `flawed` teacher never carries or borrows: "7+8=15,5+6=11,4+7=11" ->
// "1115" (the column's last digit, and a leading 1 only when the top column reached 10).
struct ColumnWork {
  std::string steps;
  std::string answer;  // unpadded digits, most significant first
};

ColumnWork AddColumns(const std::string& a, const std::string& b, bool flawed) {
  std::vector<std::string> steps;
  std::string digits;
  int carry = 0;
  for (size_t k = a.size(); k-- > 0;) {
    int da = a[k] - '0', db = b[k] - '0';
    int sum = da + db + carry;
    steps.push_back(carry ? absl::StrCat(da, "+", db, "+1=", sum)
                          : absl::StrCat(da, "+", db, "=", sum));
    digits.insert(digits.begin(), static_cast<char>('0' + sum % 10));
    carry = flawed ? 0 : sum >= 10;
    if (k == 0 && sum >= 10) digits.insert(digits.begin(), '1');
  }
  return {absl::StrJoin(steps, ","), digits};
}

ColumnWork SubtractColumns(const std::string& a, const std::string& b, bool flawed) {
  std::vector<std::string> steps;
  std::string digits;
  int borrow = 0;
  for (size_t k = a.size(); k-- > 0;) {
    int da = a[k] - '0', db = b[k] - '0';
    int diff = da - db - borrow;
    std::string step =
        borrow ? absl::StrCat(da, "-", db, "-1=", diff) : absl::StrCat(da, "-", db, "=", diff);
    if (diff < 0) absl::StrAppend(&step, "+10=", diff + 10);
    steps.push_back(step);
    digits.insert(digits.begin(), static_cast<char>('0' + (diff + 10) % 10));
    borrow = flawed ? 0 : diff < 0;
  }
  return {absl::StrJoin(steps, ","), digits};
}

// A number in [0, 1) fixed by the prompt text and the data seed (FNV-1a, then a SplitMix64
// finaliser), the same in every run and on every platform.
double PromptHash(const std::string& text, int64_t seed) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  h ^= static_cast<uint64_t>(seed) + 0x9E3779B97F4A7C15ull;
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// Long multiplication by partial products, then their sum:
// "457*8=3656,457*60=27420,457*200=91400,3656+27420+91400=122476".
std::string MultiplicationSteps(int64_t a, const std::string& b) {
  std::vector<std::string> steps;
  std::vector<std::string> partials;
  int64_t total = 0;
  for (size_t k = b.size(); k-- > 0;) {
    int64_t digit_value = (b[k] - '0') * Pow10(static_cast<int64_t>(b.size() - 1 - k));
    int64_t partial = a * digit_value;
    total += partial;
    steps.push_back(absl::StrCat(a, "*", digit_value, "=", partial));
    partials.push_back(std::to_string(partial));
  }
  steps.push_back(absl::StrCat(absl::StrJoin(partials, "+"), "=", total));
  return absl::StrJoin(steps, ",");
}

class ArithmeticTask : public BuiltinTask {
 public:
  explicit ArithmeticTask(const BuiltinTaskOptions& options)
      : flawed_share_(options.flawed_demonstrations),
        slip_(options.flaw == "slip"),
        seed_(options.seed) {
    for (const auto& op : options.operators) operators_.push_back(op[0]);
  }
  std::string name() const override { return "arithmetic"; }
  std::string data_source() const override { return "arithmetic"; }

  PromptRecord Generate(int64_t level, std::mt19937_64& rng) const override {
    const int64_t range = Pow10(level);
    char op = operators_[UniformInt(rng, operators_.size())];
    int64_t a = static_cast<int64_t>(UniformInt(rng, range));
    int64_t b = static_cast<int64_t>(UniformInt(rng, range));
    if (op == '-' && a < b) std::swap(a, b);
    int64_t answer = op == '+' ? a + b : op == '-' ? a - b : a * b;
    PromptRecord record;
    record.text = absl::StrCat(Padded(a, level), std::string(1, op), Padded(b, level), "=");
    record.ground_truth = Padded(answer, AnswerWidth(op, level));
    record.data_source = data_source();
    record.level = level;
    record.origin = absl::StrCat("arithmetic level ", level);
    return record;
  }

  absl::StatusOr<std::string> Demonstrate(const PromptRecord& record, DemonstrationStyle style,
                                          std::mt19937_64& rng) const override {
    // Parse "AAA?BBB=" with equal operand widths.
    const std::string& t = record.text;
    size_t op_pos = t.find_first_of("+-*");
    auto invalid = [&t](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("not an arithmetic prompt '", t, "': ", why));
    };
    if (op_pos == std::string::npos || t.empty() || t.back() != '=') {
      return invalid("expected digits, an operator, digits and '='");
    }
    std::string a = t.substr(0, op_pos);
    std::string b = t.substr(op_pos + 1, t.size() - op_pos - 2);
    auto all_digits = [](const std::string& s) {
      return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (!all_digits(a) || !all_digits(b) || a.size() != b.size()) {
      return invalid("operands must be digit strings of equal length");
    }
    if (static_cast<int64_t>(a.size()) > kMaxArithmeticLevel) return invalid("operands too long");
    const char op = t[op_pos];
    const int64_t level = static_cast<int64_t>(a.size());
    const int64_t va = std::stoll(a), vb = std::stoll(b);
    if (op == '-' && va < vb) return invalid("the first operand of '-' must not be smaller");
    const int64_t width = AnswerWidth(op, level);
    const bool flawed = flawed_share_ > 0 && PromptHash(t, seed_) < flawed_share_;
    if (flawed && slip_) {
      std::string steps = op == '*' ? MultiplicationSteps(va, b)
                                    : (op == '+' ? AddColumns(a, b, false).steps
                                                 : SubtractColumns(a, b, false).steps);
      int64_t answer = op == '+' ? va + vb : op == '-' ? va - vb : va * vb;
      std::string padded = Padded(answer, width);
      size_t pos = static_cast<size_t>(PromptHash(t, seed_ + 1) * padded.size());
      int shift = 1 + static_cast<int>(PromptHash(t, seed_ + 2) * 9);
      padded[pos] = static_cast<char>('0' + (padded[pos] - '0' + shift) % 10);
      if (style == DemonstrationStyle::kAnswer) return padded;
      return absl::StrCat(steps, "\n", padded);
    }
    if (op == '*') {
      std::string padded = Padded(va * vb, width);
      if (style == DemonstrationStyle::kAnswer) return padded;
      return absl::StrCat(MultiplicationSteps(va, b), "\n", padded);
    }
    ColumnWork work = op == '+' ? AddColumns(a, b, flawed) : SubtractColumns(a, b, flawed);
    std::string padded = Padded(std::stoll(work.answer), width);
    if (style == DemonstrationStyle::kAnswer) return padded;
    return absl::StrCat(work.steps, "\n", padded);
  }

 private:
  std::vector<char> operators_;
  double flawed_share_;  // options.flawed_demonstrations
  bool slip_;            // options.flaw == "slip"
  int64_t seed_;         // options.seed
};

}  // namespace

std::unique_ptr<BuiltinTask> MakeArithmeticTask(const BuiltinTaskOptions& options) {
  return std::make_unique<ArithmeticTask>(options);
}

}  // namespace ponder::trainer::internal
