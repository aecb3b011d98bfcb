#include "trainer/builtin_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

// An evaluator of the countdown grammar written for the test, independent of the task code:
// expr := term (('+'|'-') term)*, term := factor ('*' factor)*,
// factor := number | '(' expr ')', number := [1-9][0-9]*.
struct Parser {
  const std::string& s;
  size_t pos = 0;
  std::vector<int64_t> numbers;
  bool ok = true;
  int64_t Expr() {
    int64_t v = Term();
    while (ok && pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      char op = s[pos++];
      int64_t r = Term();
      v = op == '+' ? v + r : v - r;
    }
    return v;
  }
  int64_t Term() {
    int64_t v = Factor();
    while (ok && pos < s.size() && s[pos] == '*') {
      ++pos;
      v *= Factor();
    }
    return v;
  }
  int64_t Factor() {
    if (pos < s.size() && s[pos] == '(') {
      ++pos;
      int64_t v = Expr();
      if (pos >= s.size() || s[pos] != ')') ok = false;
      ++pos;
      return v;
    }
    if (pos >= s.size() || s[pos] < '1' || s[pos] > '9') {
      ok = false;
      return 0;
    }
    int64_t v = 0;
    while (pos < s.size() && isdigit(static_cast<unsigned char>(s[pos])))
      v = 10 * v + (s[pos++] - '0');
    numbers.push_back(v);
    return v;
  }
};

bool CountdownCorrect(const std::string& expr, std::vector<int64_t> numbers, int64_t target) {
  Parser p{expr};
  int64_t v = p.Expr();
  if (!p.ok || p.pos != expr.size()) return false;
  std::sort(p.numbers.begin(), p.numbers.end());
  std::sort(numbers.begin(), numbers.end());
  return p.numbers == numbers && v == target;
}

BuiltinTaskOptions Options(const std::string& name, std::vector<int64_t> levels, int64_t train,
                           int64_t val) {
  BuiltinTaskOptions o;
  o.name = name;
  o.levels = std::move(levels);
  o.train_size = train;
  o.val_size = val;
  return o;
}

TEST(ArithmeticTaskTest, PromptsAnswersAndSplits) {
  BuiltinTaskOptions o = Options("arithmetic", {2, 3}, 300, 40);
  o.operators = {"+", "-", "*"};
  auto task = MakeBuiltinTask(o);
  ASSERT_TRUE(task.ok()) << task.status();
  auto splits = GenerateTaskSplits(**task, o);
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(splits->train.size(), 300u);
  EXPECT_EQ(splits->val.size(), 40u);
  std::set<std::string> val_texts;
  for (const auto& r : splits->val.records()) val_texts.insert(r.text);
  EXPECT_EQ(val_texts.size(), 40u);
  std::set<std::string> train_texts;
  std::map<int64_t, int> per_level;
  const std::regex shape("(\\d+)([-+*])(\\d+)=");
  for (size_t i = 0; i < splits->train.size(); ++i) {
    const PromptRecord& r = splits->train[i];
    EXPECT_EQ(val_texts.count(r.text), 0u) << r.text;
    EXPECT_TRUE(train_texts.insert(r.text).second) << "duplicate " << r.text;
    EXPECT_EQ(r.level, i % 2 == 0 ? 2 : 3) << "levels interleave";
    ++per_level[r.level];
    std::smatch m;
    ASSERT_TRUE(std::regex_match(r.text, m, shape)) << r.text;
    const int64_t a = std::stoll(m[1]), b = std::stoll(m[3]);
    EXPECT_EQ(m[1].length(), r.level);
    EXPECT_EQ(m[3].length(), r.level);
    const char op = m[2].str()[0];
    int64_t expect = op == '+' ? a + b : op == '-' ? a - b : a * b;
    EXPECT_GE(expect, 0);
    const std::string truth = r.ground_truth.get<std::string>();
    EXPECT_EQ(std::stoll(truth), expect) << r.text;
    EXPECT_EQ(static_cast<int64_t>(truth.size()), op == '+'   ? r.level + 1
                                                  : op == '-' ? r.level
                                                              : 2 * r.level);
    EXPECT_EQ(r.data_source, "arithmetic");
    EXPECT_EQ(r.text.find_first_not_of(kBuiltinTaskAlphabet), std::string::npos);
  }
  EXPECT_EQ(per_level[2], 150);
  EXPECT_EQ(per_level[3], 150);

  auto again = GenerateTaskSplits(**task, o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->train[123].text, splits->train[123].text) << "same seed, same data";
}

TEST(ArithmeticTaskTest, WorkedDemonstrationsByHand) {
  BuiltinTaskOptions o = Options("arithmetic", {3}, 1, 0);
  auto task = MakeBuiltinTask(o);
  ASSERT_TRUE(task.ok());
  std::mt19937_64 rng(1);
  PromptRecord add;
  add.text = "457+768=";
  EXPECT_EQ(*(*task)->Demonstrate(add, DemonstrationStyle::kAnswer, rng), "1225");
  EXPECT_EQ(*(*task)->Demonstrate(add, DemonstrationStyle::kChainOfThought, rng),
            "7+8=15,5+6+1=12,4+7+1=12\n1225");
  PromptRecord sub;
  sub.text = "768-459=";
  EXPECT_EQ(*(*task)->Demonstrate(sub, DemonstrationStyle::kChainOfThought, rng),
            "8-9=-1+10=9,6-5-1=0,7-4=3\n309");
  PromptRecord mul;
  mul.text = "457*268=";
  EXPECT_EQ(*(*task)->Demonstrate(mul, DemonstrationStyle::kChainOfThought, rng),
            "457*8=3656,457*60=27420,457*200=91400,3656+27420+91400=122476\n122476");
  PromptRecord small;
  small.text = "05+07=";
  EXPECT_EQ(*(*task)->Demonstrate(small, DemonstrationStyle::kAnswer, rng), "012");
  EXPECT_EQ(BuiltinFinalAnswer("7+8=15,5+6+1=12,4+7+1=12\n1225"), "1225");
  EXPECT_EQ(BuiltinFinalAnswer("1225"), "1225");

  for (const char* bad : {"45+768=", "457+768", "abc+def=", "768-999="}) {
    PromptRecord r;
    r.text = bad;
    auto d = (*task)->Demonstrate(r, DemonstrationStyle::kAnswer, rng);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr("not an arithmetic prompt"));
  }
}

TEST(ArithmeticTaskTest, EveryGeneratedDemonstrationEndsInTheGroundTruth) {
  BuiltinTaskOptions o = Options("arithmetic", {1, 4}, 200, 0);
  o.operators = {"+", "-", "*"};
  auto task = MakeBuiltinTask(o);
  auto splits = GenerateTaskSplits(**task, o);
  ASSERT_TRUE(splits.ok()) << splits.status();
  std::mt19937_64 rng(3);
  for (const auto& r : splits->train.records()) {
    auto cot = (*task)->Demonstrate(r, DemonstrationStyle::kChainOfThought, rng);
    ASSERT_TRUE(cot.ok()) << cot.status();
    EXPECT_EQ(BuiltinFinalAnswer(*cot), r.ground_truth.get<std::string>()) << r.text;
    EXPECT_EQ(cot->find_first_not_of(kBuiltinTaskAlphabet), std::string::npos) << *cot;
  }
}

TEST(ArithmeticTaskTest, FlawedTeacherForgetsCarriesAndBorrowsByHand) {
  BuiltinTaskOptions o = Options("arithmetic", {3}, 1, 0);
  o.operators = {"+", "-"};
  o.flawed_demonstrations = 1.0;  // every prompt taught wrongly
  auto task = MakeBuiltinTask(o);
  ASSERT_TRUE(task.ok()) << task.status();
  std::mt19937_64 rng(1);
  PromptRecord add;
  add.text = "457+768=";
  EXPECT_EQ(*(*task)->Demonstrate(add, DemonstrationStyle::kAnswer, rng), "1115");
  EXPECT_EQ(*(*task)->Demonstrate(add, DemonstrationStyle::kChainOfThought, rng),
            "7+8=15,5+6=11,4+7=11\n1115");
  PromptRecord no_carry;
  no_carry.text = "123+456=";
  EXPECT_EQ(*(*task)->Demonstrate(no_carry, DemonstrationStyle::kAnswer, rng), "0579");
  PromptRecord top_carry;  // only the top column reaches 10: the flawed answer is right
  top_carry.text = "923+456=";
  EXPECT_EQ(*(*task)->Demonstrate(top_carry, DemonstrationStyle::kAnswer, rng), "1379");
  PromptRecord sub;
  sub.text = "768-459=";
  EXPECT_EQ(*(*task)->Demonstrate(sub, DemonstrationStyle::kChainOfThought, rng),
            "8-9=-1+10=9,6-5=1,7-4=3\n319");
}

TEST(ArithmeticTaskTest, FlawedShareIsFixedPerPromptAndSlipsChangeOneDigit) {
  BuiltinTaskOptions o = Options("arithmetic", {3}, 2000, 0);
  o.operators = {"+", "-", "*"};
  o.flawed_demonstrations = 0.6;
  o.flaw = "slip";
  auto task = MakeBuiltinTask(o);
  ASSERT_TRUE(task.ok()) << task.status();
  auto splits = GenerateTaskSplits(**task, o);
  ASSERT_TRUE(splits.ok()) << splits.status();
  std::mt19937_64 rng(1), other_rng(99);
  int flawed = 0;
  for (const auto& r : splits->train.records()) {
    const std::string truth = r.ground_truth.get<std::string>();
    const std::string demo = *(*task)->Demonstrate(r, DemonstrationStyle::kAnswer, rng);
    EXPECT_EQ(demo, *(*task)->Demonstrate(r, DemonstrationStyle::kAnswer, other_rng))
        << "the same demonstration every time: " << r.text;
    ASSERT_EQ(demo.size(), truth.size()) << r.text;
    int differing = 0;
    for (size_t i = 0; i < demo.size(); ++i) differing += demo[i] != truth[i];
    EXPECT_LE(differing, 1) << r.text << " -> " << demo;
    flawed += differing;
    // The worked steps stay right; only the final answer slips.
    const std::string cot = *(*task)->Demonstrate(r, DemonstrationStyle::kChainOfThought, rng);
    EXPECT_EQ(BuiltinFinalAnswer(cot), demo) << r.text;
  }
  // 2000 prompts at 0.6: one standard deviation is 11 prompts.
  EXPECT_NEAR(flawed, 1200, 60);

  BuiltinTaskOptions clean = o;
  clean.flawed_demonstrations = 0;
  auto clean_task = MakeBuiltinTask(clean);
  for (const auto& r : splits->train.records()) {
    EXPECT_EQ(*(*clean_task)->Demonstrate(r, DemonstrationStyle::kAnswer, rng),
              r.ground_truth.get<std::string>());
  }
}

TEST(CountdownTaskTest, PromptsHaveSolutionsAndDemonstrationsAreCorrect) {
  BuiltinTaskOptions o = Options("countdown", {2, 3, 4}, 120, 30);
  auto task = MakeBuiltinTask(o);
  ASSERT_TRUE(task.ok()) << task.status();
  auto splits = GenerateTaskSplits(**task, o);
  ASSERT_TRUE(splits.ok()) << splits.status();
  std::mt19937_64 rng(5);
  const std::regex shape("([1-9](,[1-9])+)>(\\d\\d):");
  for (const auto& r : splits->train.records()) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(r.text, m, shape)) << r.text;
    std::vector<int64_t> numbers = r.ground_truth["numbers"].get<std::vector<int64_t>>();
    const int64_t target = r.ground_truth["target"].get<int64_t>();
    EXPECT_EQ(static_cast<int64_t>(numbers.size()), r.level);
    EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end()));
    EXPECT_EQ(std::stoll(m[3]), target);
    EXPECT_GE(target, 0);
    EXPECT_LE(target, 99);
    EXPECT_EQ(r.data_source, "countdown");
    for (auto style : {DemonstrationStyle::kAnswer, DemonstrationStyle::kChainOfThought}) {
      auto demo = (*task)->Demonstrate(r, style, rng);
      ASSERT_TRUE(demo.ok()) << demo.status();
      EXPECT_TRUE(CountdownCorrect(BuiltinFinalAnswer(*demo), numbers, target))
          << r.text << " -> " << *demo;
      EXPECT_EQ(demo->find_first_not_of(kBuiltinTaskAlphabet), std::string::npos) << *demo;
    }
  }
}

TEST(CountdownTaskTest, DemonstrationsCoverExactlyTheHandListedSolutions) {
  auto task = MakeBuiltinTask(Options("countdown", {3}, 1, 0));
  ASSERT_TRUE(task.ok());
  PromptRecord r;
  r.text = "3,4,5>17:";
  r.ground_truth = {{"numbers", {3, 4, 5}}, {"target", 17}};
  std::set<std::string> seen;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 400; ++i) {
    seen.insert(*(*task)->Demonstrate(r, DemonstrationStyle::kAnswer, rng));
  }
  // 3*4 + 5 and 4*5 - 3 in every spelling the grammar allows without redundant parentheses.
  EXPECT_EQ(seen, (std::set<std::string>{"3*4+5", "4*3+5", "5+3*4", "5+4*3", "4*5-3", "5*4-3"}));
  std::string cot = *(*task)->Demonstrate(r, DemonstrationStyle::kChainOfThought, rng);
  EXPECT_THAT(std::set<std::string>({"3*4=12,12+5=17\n3*4+5", "4*3=12,12+5=17\n4*3+5",
                                     "3*4=12,5+12=17\n5+3*4", "4*3=12,5+12=17\n5+4*3",
                                     "4*5=20,20-3=17\n4*5-3", "5*4=20,20-3=17\n5*4-3"}),
              ::testing::Contains(cot));
  PromptRecord parens;
  parens.ground_truth = {{"numbers", {2, 3, 9}}, {"target", 45}};  // (2+3)*9 and spellings
  std::string demo = *(*task)->Demonstrate(parens, DemonstrationStyle::kAnswer, rng);
  EXPECT_TRUE(CountdownCorrect(demo, {2, 3, 9}, 45)) << demo;
  EXPECT_NE(demo.find('('), std::string::npos) << demo;
}

TEST(CountdownTaskTest, BadGroundTruthAndUnsolvablePrompts) {
  auto task = MakeBuiltinTask(Options("countdown", {3}, 1, 0));
  std::mt19937_64 rng(1);
  struct Case {
    nlohmann::json truth;
    const char* message;
  } cases[] = {
      {"17", "ground truth must be {\"numbers\": [...], \"target\": N}"},
      {{{"numbers", {3, 0, 5}}, {"target", 17}}, "numbers must be positive integers"},
      {{{"numbers", {3}}, {"target", 3}}, "needs 2 to 5 numbers (got 1)"},
      {{{"numbers", {1, 1}}, {"target", 97}}, "no expression reaches the target"},
  };
  for (const Case& c : cases) {
    PromptRecord r;
    r.origin = "row 9";
    r.ground_truth = c.truth;
    auto d = (*task)->Demonstrate(r, DemonstrationStyle::kAnswer, rng);
    ASSERT_FALSE(d.ok()) << c.truth.dump();
    EXPECT_THAT(std::string(d.status().message()), HasSubstr("not a countdown prompt (row 9)"));
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(c.message));
  }
}

TEST(BuiltinTaskTest, RunsOutOfDistinctPromptsWithAClearError) {
  BuiltinTaskOptions o = Options("arithmetic", {1}, 95, 10);  // only 100 "a+b=" prompts exist
  auto task = MakeBuiltinTask(o);
  auto splits = GenerateTaskSplits(**task, o);
  ASSERT_FALSE(splits.ok());
  EXPECT_EQ(splits.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(splits.status().message()),
              HasSubstr("arithmetic level 1 ran out of distinct prompts for the train split: "
                        "found 90 of 95"));
}

TEST(BuiltinTaskTest, BadOptions) {
  struct Case {
    BuiltinTaskOptions options;
    const char* message;
  };
  BuiltinTaskOptions unknown = Options("sudoku", {1}, 1, 0);
  BuiltinTaskOptions level = Options("countdown", {6}, 1, 0);
  BuiltinTaskOptions op = Options("arithmetic", {1}, 1, 0);
  op.operators = {"/"};
  BuiltinTaskOptions repeat = Options("arithmetic", {2, 2}, 1, 0);
  BuiltinTaskOptions flawed_countdown = Options("countdown", {3}, 1, 0);
  flawed_countdown.flawed_demonstrations = 0.5;
  BuiltinTaskOptions carry_times = Options("arithmetic", {2}, 1, 0);
  carry_times.operators = {"+", "*"};
  carry_times.flawed_demonstrations = 0.5;
  for (const Case& c : {Case{unknown, "unknown built-in task 'sudoku'"},
                        Case{flawed_countdown, "flawed_demonstrations applies to the arithmetic"},
                        Case{carry_times, "flaw carry applies to + and - only"},
                        Case{level, "levels of countdown must be in 2..5 (got 6)"},
                        Case{op, "operators must be chosen from \"+\", \"-\", \"*\" (got \"/\")"},
                        Case{repeat, "levels must not repeat"}}) {
    auto task = MakeBuiltinTask(c.options);
    ASSERT_FALSE(task.ok());
    EXPECT_THAT(std::string(task.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace ponder::trainer
