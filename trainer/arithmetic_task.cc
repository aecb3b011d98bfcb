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

// Worked column addition, least significant digit first: "7+8=15,5+6+1=12,4+7+1=12".
std::string AdditionSteps(const std::string& a, const std::string& b) {
  std::vector<std::string> steps;
  int carry = 0;
  for (size_t k = a.size(); k-- > 0;) {
    int da = a[k] - '0', db = b[k] - '0';
    int sum = da + db + carry;
    steps.push_back(carry ? absl::StrCat(da, "+", db, "+1=", sum)
                          : absl::StrCat(da, "+", db, "=", sum));
    carry = sum >= 10;
  }
  return absl::StrJoin(steps, ",");
}

// Worked column subtraction (a >= b) with borrows: "5-6-1=-2+10=8".
std::string SubtractionSteps(const std::string& a, const std::string& b) {
  std::vector<std::string> steps;
  int borrow = 0;
  for (size_t k = a.size(); k-- > 0;) {
    int da = a[k] - '0', db = b[k] - '0';
    int diff = da - db - borrow;
    std::string step =
        borrow ? absl::StrCat(da, "-", db, "-1=", diff) : absl::StrCat(da, "-", db, "=", diff);
    if (diff < 0) absl::StrAppend(&step, "+10=", diff + 10);
    steps.push_back(step);
    borrow = diff < 0;
  }
  return absl::StrJoin(steps, ",");
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
  explicit ArithmeticTask(const BuiltinTaskOptions& options) {
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
    int64_t answer = op == '+' ? va + vb : op == '-' ? va - vb : va * vb;
    std::string padded = Padded(answer, AnswerWidth(op, level));
    if (style == DemonstrationStyle::kAnswer) return padded;
    std::string steps = op == '+'   ? AdditionSteps(a, b)
                        : op == '-' ? SubtractionSteps(a, b)
                                    : MultiplicationSteps(va, b);
    return absl::StrCat(steps, "\n", padded);
  }

 private:
  std::vector<char> operators_;
};

}  // namespace

std::unique_ptr<BuiltinTask> MakeArithmeticTask(const BuiltinTaskOptions& options) {
  return std::make_unique<ArithmeticTask>(options);
}

}  // namespace ponder::trainer::internal
