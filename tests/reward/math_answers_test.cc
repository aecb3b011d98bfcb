// The acceptance cases of the `math` verifier: tests/reward/cases/math_answers.tsv, one
// labelled pair a line (response <TAB> gold <TAB> = or != <TAB> category; <NL> in a response
// is a newline). The verifier, with its default options, must agree with every line, and
// every "not equal" must carry details.reason. The count per category is printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "reward/math_verifier.h"
#include "tests/testing.h"

namespace ponder::reward {
namespace {

const std::set<std::string>& Categories() {
  static const std::set<std::string> kCategories = {
      "no_boxed", "relation", "interval", "set_tuple",  "matrix",   "symbolic",
      "text",     "number",   "multiple", "math_style", "olympiad", "hostile"};
  return kCategories;
}

TEST(MathAnswersTest, VerifierAgreesWithEveryLabelledPair) {
  std::string path = testing::SourcePath("tests/reward/cases/math_answers.tsv");
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "cannot read " << path;
  auto verifier = MathVerifier::Create(MathOptions());
  ASSERT_TRUE(verifier.ok());
  std::map<std::string, std::pair<int, int>> counts;  // category -> (equal, not equal)
  std::string line;
  int number = 0, cases = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_EQ(fields.size(), 4u) << "math_answers.tsv:" << number << ": want 4 fields";
    const std::string& verdict = fields[2];
    const std::string& category = fields[3];
    ASSERT_TRUE(verdict == "=" || verdict == "!=") << "math_answers.tsv:" << number;
    ASSERT_TRUE(Categories().count(category)) << "math_answers.tsv:" << number << ": category";
    VerifyInput input;
    input.response = absl::StrReplaceAll(fields[0], {{"<NL>", "\n"}});
    input.ground_truth = fields[1];
    absl::StatusOr<VerifyResult> result = (*verifier)->Score(input);
    ASSERT_TRUE(result.ok()) << "math_answers.tsv:" << number << ": " << result.status();
    bool equal = result->correct.value_or(false);
    EXPECT_EQ(equal, verdict == "=")
        << "math_answers.tsv:" << number << " [" << category << "]: gold '" << fields[1]
        << "' response '" << fields[0] << "'\n  details: " << result->details.dump();
    if (!equal) {
      EXPECT_FALSE(result->details.value("reason", std::string()).empty())
          << "math_answers.tsv:" << number << ": a 'not equal' without a reason";
    }
    ++cases;
    (verdict == "=" ? counts[category].first : counts[category].second)++;
  }
  EXPECT_GE(cases, 300);
  std::printf("%-12s %6s %6s %6s\n", "category", "equal", "!=", "total");
  for (const auto& [category, c] : counts) {
    std::printf("%-12s %6d %6d %6d\n", category.c_str(), c.first, c.second, c.first + c.second);
  }
  std::printf("%-12s %6s %6s %6d\n", "all", "", "", cases);
}

}  // namespace
}  // namespace ponder::reward
