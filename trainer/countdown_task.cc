// The `countdown` built-in task (see builtin_task.h).
#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/internal/random.h"
#include "trainer/internal/tasks.h"

namespace ponder::trainer::internal {
namespace {

// A partial expression: its value, its text with the fewest parentheses the grammar needs,
// whether its top operator is + or - (then it needs parentheses under * or as the right
// operand of -), and its worked steps.
struct Item {
  int64_t value;
  std::string text;
  bool is_sum;
  std::string steps;
};

Item Combine(const Item& l, char op, const Item& r) {
  Item out;
  out.value = op == '+' ? l.value + r.value : op == '-' ? l.value - r.value : l.value * r.value;
  bool paren_l = op == '*' && l.is_sum;
  bool paren_r = (op == '*' || op == '-') && r.is_sum;
  out.text = absl::StrCat(paren_l ? "(" : "", l.text, paren_l ? ")" : "", std::string(1, op),
                          paren_r ? "(" : "", r.text, paren_r ? ")" : "");
  out.is_sum = op != '*';
  std::string step = absl::StrCat(l.value, std::string(1, op), r.value, "=", out.value);
  out.steps = absl::StrJoin({l.steps, r.steps, step}, ",");
  // Drop empty pieces from leaves.
  while (!out.steps.empty() && out.steps.front() == ',') out.steps.erase(0, 1);
  size_t pos;
  while ((pos = out.steps.find(",,")) != std::string::npos) out.steps.erase(pos, 1);
  return out;
}

constexpr char kOps[] = {'+', '-', '*'};

// Every expression over all of `items` (each used once) that evaluates to `target`.
void Solve(const std::vector<Item>& items, int64_t target, std::vector<Item>& found) {
  if (items.size() == 1) {
    if (items[0].value == target) found.push_back(items[0]);
    return;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    for (size_t j = 0; j < items.size(); ++j) {
      if (i == j) continue;
      std::vector<Item> rest;
      rest.reserve(items.size() - 1);
      for (size_t k = 0; k < items.size(); ++k) {
        if (k != i && k != j) rest.push_back(items[k]);
      }
      for (char op : kOps) {
        if (op != '-' && i > j) continue;  // + and * : one operand order is enough per pair...
        rest.push_back(Combine(items[i], op, items[j]));
        Solve(rest, target, found);
        rest.pop_back();
        if (op != '-') {  // ... but both spellings ("3+4", "4+3") are distinct answers
          rest.push_back(Combine(items[j], op, items[i]));
          Solve(rest, target, found);
          rest.pop_back();
        }
      }
    }
  }
}

class CountdownTask : public BuiltinTask {
 public:
  explicit CountdownTask(const BuiltinTaskOptions& options)
      : max_number_(options.max_number),
        max_target_(options.max_target),
        target_width_(static_cast<int64_t>(std::to_string(options.max_target).size())) {}
  std::string name() const override { return "countdown"; }
  std::string data_source() const override { return "countdown"; }

  PromptRecord Generate(int64_t level, std::mt19937_64& rng) const override {
    while (true) {
      std::vector<int64_t> numbers;
      std::vector<Item> items;
      for (int64_t i = 0; i < level; ++i) {
        numbers.push_back(1 + static_cast<int64_t>(UniformInt(rng, max_number_)));
        items.push_back({numbers.back(), std::to_string(numbers.back()), false, ""});
      }
      // A random expression tree: repeatedly combine two random items with a random operator.
      while (items.size() > 1) {
        size_t i = UniformInt(rng, items.size());
        size_t j = UniformInt(rng, items.size() - 1);
        if (j >= i) ++j;
        char op = kOps[UniformInt(rng, 3)];
        Item combined = Combine(items[i], op, items[j]);
        items.erase(items.begin() + std::max(i, j));
        items.erase(items.begin() + std::min(i, j));
        items.push_back(std::move(combined));
      }
      const int64_t target = items[0].value;
      if (target < 0 || target > max_target_) continue;
      std::sort(numbers.begin(), numbers.end());
      std::string padded = std::to_string(target);
      padded.insert(0, target_width_ - padded.size(), '0');
      PromptRecord record;
      record.text = absl::StrCat(absl::StrJoin(numbers, ","), ">", padded, ":");
      record.ground_truth = {{"numbers", numbers}, {"target", target}};
      record.data_source = data_source();
      record.level = level;
      record.origin = absl::StrCat("countdown level ", level);
      return record;
    }
  }

  absl::StatusOr<std::string> Demonstrate(const PromptRecord& record, DemonstrationStyle style,
                                          std::mt19937_64& rng) const override {
    const nlohmann::json& truth = record.ground_truth;
    auto invalid = [&record](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a countdown prompt (", record.origin, "): ", why));
    };
    if (!truth.is_object() || !truth.contains("numbers") || !truth.contains("target") ||
        !truth["numbers"].is_array() || !truth["target"].is_number_integer()) {
      return invalid("ground truth must be {\"numbers\": [...], \"target\": N}");
    }
    std::vector<Item> items;
    for (const auto& n : truth["numbers"]) {
      if (!n.is_number_integer() || n.get<int64_t>() < 1) {
        return invalid("numbers must be positive integers");
      }
      items.push_back({n.get<int64_t>(), std::to_string(n.get<int64_t>()), false, ""});
    }
    if (static_cast<int64_t>(items.size()) < kMinCountdownLevel ||
        static_cast<int64_t>(items.size()) > kMaxCountdownLevel) {
      return invalid(absl::StrCat("needs ", kMinCountdownLevel, " to ", kMaxCountdownLevel,
                                  " numbers (got ", items.size(), ")"));
    }
    std::vector<Item> found;
    Solve(items, truth["target"].get<int64_t>(), found);
    // Distinct answers, in a fixed order, so the choice depends only on the RNG.
    std::sort(found.begin(), found.end(), [](const Item& a, const Item& b) {
      return a.text != b.text ? a.text < b.text : a.steps < b.steps;
    });
    found.erase(std::unique(found.begin(), found.end(),
                            [](const Item& a, const Item& b) { return a.text == b.text; }),
                found.end());
    if (found.empty()) return invalid("no expression reaches the target");
    const Item& pick = found[UniformInt(rng, found.size())];
    if (style == DemonstrationStyle::kAnswer) return pick.text;
    return absl::StrCat(pick.steps, "\n", pick.text);
  }

 private:
  int64_t max_number_;
  int64_t max_target_;
  int64_t target_width_;
};

}  // namespace

std::unique_ptr<BuiltinTask> MakeCountdownTask(const BuiltinTaskOptions& options) {
  return std::make_unique<CountdownTask>(options);
}

}  // namespace ponder::trainer::internal
