// The math verifier: normalisation, extraction and equivalence cases from data files (one
// case per line in tests/reward/cases/), plus the verifier's own behaviour.
#include "reward/math_verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "reward/internal/math_expr.h"
#include "reward/internal/math_normalize.h"
#include "reward/verifier_registry.h"
#include "tests/testing.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;

struct CaseLine {
  int line = 0;
  std::vector<std::string> fields;
};

// Reads a tab-separated case file; '#' lines and blank lines are skipped.
std::vector<CaseLine> ReadCases(const std::string& name) {
  std::string path = testing::SourcePath("tests/reward/cases/" + name);
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<CaseLine> cases;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    CaseLine c;
    c.line = number;
    c.fields = absl::StrSplit(line, '\t');
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(MathNormalizeTest, CasesFromFile) {
  std::vector<CaseLine> cases = ReadCases("math_normalize.tsv");
  ASSERT_GT(cases.size(), 40u);
  for (const CaseLine& c : cases) {
    ASSERT_EQ(c.fields.size(), 2u) << "math_normalize.tsv:" << c.line;
    EXPECT_EQ(internal::NormalizeAnswer(c.fields[0]), c.fields[1])
        << "math_normalize.tsv:" << c.line << ": " << c.fields[0];
  }
}

TEST(MathExtractTest, CasesFromFile) {
  std::vector<CaseLine> cases = ReadCases("math_extract.tsv");
  ASSERT_GT(cases.size(), 10u);
  MathOptions options;
  for (const CaseLine& c : cases) {
    ASSERT_EQ(c.fields.size(), 3u) << "math_extract.tsv:" << c.line;
    std::string response = absl::StrReplaceAll(c.fields[0], {{"\\n", "\n"}});
    std::optional<ExtractedAnswer> got = ExtractMathAnswer(response, options);
    ASSERT_TRUE(got.has_value()) << "math_extract.tsv:" << c.line;
    EXPECT_EQ(got->answer, c.fields[1]) << "math_extract.tsv:" << c.line;
    EXPECT_EQ(got->method, c.fields[2]) << "math_extract.tsv:" << c.line;
  }
}

void CheckEquivalenceFile(const std::string& file, size_t min_cases) {
  std::vector<CaseLine> cases = ReadCases(file);
  ASSERT_GT(cases.size(), min_cases);
  MathOptions options;
  for (const CaseLine& c : cases) {
    ASSERT_TRUE(c.fields.size() == 3u || c.fields.size() == 2u) << file << ":" << c.line;
    const std::string& verdict = c.fields[0];
    ASSERT_TRUE(verdict == "=" || verdict == "!=") << file << ":" << c.line;
    std::string pred = c.fields.size() == 3 ? c.fields[2] : "";
    bool equal = MathAnswersEqual(c.fields[1], pred, options);
    std::string parsed_gold, parsed_pred;
    if (auto e = internal::ParseMath(internal::NormalizeAnswer(c.fields[1])); e.ok()) {
      parsed_gold = internal::ToString(*e);
    } else {
      parsed_gold = std::string(e.status().message());
    }
    if (auto e = internal::ParseMath(internal::NormalizeAnswer(pred)); e.ok()) {
      parsed_pred = internal::ToString(*e);
    } else {
      parsed_pred = std::string(e.status().message());
    }
    EXPECT_EQ(equal, verdict == "=")
        << file << ":" << c.line << ": gold '" << c.fields[1] << "' pred '" << pred
        << "'\n  gold parsed: " << parsed_gold << "\n  pred parsed: " << parsed_pred;
  }
}

// Hand-written cases: each normalisation rule, known hard pairs, structures.
TEST(MathEquivalenceTest, CasesFromFile) { CheckEquivalenceFile("math_equivalence.tsv", 100); }

// Verdicts computed by SymPy (tests/reward/make_math_sympy_cases.py).
TEST(MathEquivalenceTest, SympyCasesFromFile) { CheckEquivalenceFile("math_sympy.tsv", 100); }

// Model output is adversarial input: deep nesting, huge numbers, towers of powers, long lists
// and many \pm must give a verdict (not a crash, hang or exception), "not equal" both ways,
// with a reason that says what stopped the comparison.
TEST(MathAdversarialTest, HostileAnswersGetAVerdictWithAReason) {
  MathOptions options;
  struct Hostile {
    std::string gold, pred, reason;  // reason: a part of the 'not equal' reason, both ways
  };
  std::string fracs;
  for (int i = 0; i < 2000; ++i) fracs += "\\frac{";
  std::string long_set = "\\{";
  for (int i = 0; i < 3000; ++i) long_set += std::to_string(i % 7) + ",";
  long_set += "1\\}";
  const std::vector<Hostile> cases = {
      {"1", std::string(5000, '(') + "1" + std::string(5000, ')'), "max_answer_chars"},
      {"1", std::string(3000, '{') + "1" + std::string(3000, '}'), "max_answer_chars"},
      {"1", fracs + "1", "max_answer_chars"},
      {"1", "2^{2^{2^{2^{2^{2^{2^{2}}}}}}}", "has no value"},
      {"1", "10^{1000000000}", "has no value"},
      {"1", "99999999999999999999999999999999999999999999999999999999999999999",
       "the numbers differ"},
      {"1", "0.00000000000000000000000000000000000000000000000000000000000001",
       "not equal to 6 decimal places"},
      {"x", "x^{x^{x^{x^{x^{x^{x}}}}}}", "the expressions differ"},
      {"1", "1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1",
       "more than 16 values"},
      {"5!", "100000!", "has no value"},
      {"1", "\\sqrt[1000000]{2}", "the numbers differ"},
      {"1", "(1,2" + std::string(20000, ',') + ")", "max_answer_chars"},
      {"1", "\\begin{pmatrix}" + std::string(10000, '&') + "\\end{pmatrix}", "max_answer_chars"},
      {"1", "\\text{" + std::string(100000, 'a'), "max_answer_chars"},
      {"\\{1,2,3\\}", long_set, "max_answer_chars"},
      {"1", "1e999999", "out of range"},
      {"1", "0/0", "has no value"},
      {"1", "\\frac{1}{0}", "has no value"},
      {"1", "\\log_{1} 1", "has no value"},
      {"1", std::string("\xff\xfe\x00\x80", 4), "could not be read"},
  };
  auto check = [](const std::vector<Hostile>& cases, const MathOptions& options) {
    for (const Hostile& c : cases) {
      for (bool gold_first : {true, false}) {
        const std::string& gold = gold_first ? c.gold : c.pred;
        const std::string& pred = gold_first ? c.pred : c.gold;
        MathVerdict v = CompareMathAnswers(gold, pred, options);
        EXPECT_FALSE(v.equal) << c.pred.substr(0, 60);
        EXPECT_THAT(v.reason, HasSubstr(c.reason))
            << "gold '" << gold.substr(0, 60) << "' pred '" << pred.substr(0, 60) << "'";
      }
    }
  };
  check(cases, options);
  // Within max_answer_chars the reader itself meets them: it stops at its depth limit.
  std::string short_fracs;
  for (int i = 0; i < 150; ++i) short_fracs += "\\frac{";
  check({{"1", std::string(200, '(') + "1" + std::string(200, ')'), "nested too deeply"},
         {"1", std::string(200, '{') + "1" + std::string(200, '}'), "nested too deeply"},
         {"1", short_fracs + "1", "could not be read"}},
        options);
  // The verifier scores a long response with an unclosed box quickly too.
  auto verifier = MathVerifier::Create(options);
  VerifyInput input;
  input.response = std::string(1 << 20, 'x') + "\\boxed{" + std::string(1 << 16, '{');
  input.ground_truth = "1";
  auto r = (*verifier)->Score(input);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->correct, false);
  EXPECT_FALSE(r->details.value("reason", std::string()).empty()) << r->details.dump();
}

// The math verifier built from YAML options, as a job config gives them.
std::unique_ptr<Verifier> MathWith(const std::string& yaml) {
  absl::StatusOr<std::unique_ptr<Verifier>> v =
      VerifierRegistry::Builtins().CreateFromYaml("math", yaml, "job.yaml");
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? std::move(*v) : nullptr;
}

VerifyResult ScoreOne(const Verifier& verifier, const std::string& response,
                      const std::string& gold) {
  VerifyInput input;
  input.response = response;
  input.ground_truth = gold;
  absl::StatusOr<VerifyResult> r = verifier.Score(input);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : VerifyResult{};
}

std::string Reason(const VerifyResult& r) { return r.details.value("reason", std::string()); }

TEST(MathOptionsTest, TupleMatchesSetIsOffUnlessAsked) {
  VerifyResult strict = ScoreOne(*MathWith("{}"), "\\boxed{(2, 1)}", "\\{1, 2\\}");
  EXPECT_EQ(strict.correct, false);
  EXPECT_THAT(Reason(strict), HasSubstr("tuple_matches_set"));
  VerifyResult loose =
      ScoreOne(*MathWith("{tuple_matches_set: true}"), "\\boxed{(2, 1)}", "\\{1, 2\\}");
  EXPECT_EQ(loose.correct, true) << loose.details.dump();
  // Still a set of the same elements: {1, 3} is not (2, 1).
  EXPECT_EQ(
      ScoreOne(*MathWith("{tuple_matches_set: true}"), "\\boxed{(3, 1)}", "\\{1, 2\\}").correct,
      false);
}

TEST(MathOptionsTest, RequireBoxedRefusesOtherAnswers) {
  auto verifier = MathWith("{require_boxed: true}");
  VerifyResult unboxed = ScoreOne(*verifier, "The answer is $5$.", "5");
  EXPECT_EQ(unboxed.correct, false);
  EXPECT_TRUE(unboxed.details["extracted"].is_null());
  EXPECT_THAT(Reason(unboxed), HasSubstr("require_boxed"));
  EXPECT_EQ(ScoreOne(*verifier, "So \\boxed{5}.", "5").correct, true);
  // Without the option the same response is read.
  EXPECT_EQ(ScoreOne(*MathWith("{}"), "The answer is $5$.", "5").correct, true);
}

TEST(MathOptionsTest, DecimalPlacesSetTheNumericPrecision) {
  EXPECT_EQ(ScoreOne(*MathWith("{}"), "\\boxed{3.14}", "\\pi").correct, false);
  EXPECT_EQ(ScoreOne(*MathWith("{decimal_places: 2}"), "\\boxed{3.14}", "\\pi").correct, true);
  EXPECT_EQ(ScoreOne(*MathWith("{decimal_places: 2}"), "\\boxed{3.15}", "\\pi").correct, false);
}

TEST(MathOptionsTest, BadValuesNameTheKey) {
  const std::pair<const char*, const char*> kBad[] = {
      {"{decimal_places: 40}", "options.decimal_places must be <= 15 (got 40)"},
      {"{decimal_places: -1}", "options.decimal_places must be >= 0 (got -1)"},
      {"{time_limit_s: 0}", "options.time_limit_s must be > 0"},
      {"{extract: [boxed, regex]}", "list only boxed, hashes, answer_phrase and latex"},
      {"{tuple_matches_set: maybe}", "tuple_matches_set"},
      {"{require_boxed: 3}", "require_boxed"},
      {"{tuple_match_set: true}", "tuple_match_set"},
  };
  for (const auto& [yaml, message] : kBad) {
    absl::StatusOr<std::unique_ptr<Verifier>> v =
        VerifierRegistry::Builtins().CreateFromYaml("math", yaml, "job.yaml");
    ASSERT_FALSE(v.ok()) << yaml;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr(message)) << yaml;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr("job.yaml")) << yaml;
  }
}

// A comparison that cannot finish in its budget says so: an answer past its deadline, and a
// long list that would need too many comparisons.
TEST(MathAdversarialTest, TheBudgetEndsAComparisonWithAReason) {
  VerifyResult late =
      ScoreOne(*MathWith("{time_limit_s: 1.0e-9}"), "\\boxed{x^2 + 2x + 1}", "(x+1)^2");
  EXPECT_EQ(late.correct, false);
  EXPECT_THAT(Reason(late), HasSubstr("time budget"));
  std::string gold = "\\{", pred = "\\{";
  for (int i = 0; i < 3000; ++i) {
    absl::StrAppend(&gold, i == 0 ? "" : ",", i, "x");
    absl::StrAppend(&pred, i == 0 ? "" : ",", 2999 - i, "x");
  }
  gold += "\\}";
  pred += "\\}";
  VerifyResult big =
      ScoreOne(*MathWith("{max_answer_chars: 100000}"), "\\boxed{" + pred + "}", gold);
  EXPECT_EQ(big.correct, false);
  EXPECT_THAT(Reason(big), HasSubstr("time budget"));
}

}  // namespace
}  // namespace ponder::reward
