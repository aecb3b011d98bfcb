// The `code` verifier on whole benchmarks (label slow): every HumanEval canonical solution
// passes and a mutated version of each fails; at least 99% of the sanitized-MBPP reference
// solutions pass (the misses are printed, and listed in reward/README.md).
#include "tests/reward/code_datasets.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "reward/code_verifier.h"
#include "tests/reward/sandbox_testing.h"

namespace ponder::reward {
namespace {

std::unique_ptr<CodeVerifier> MakeVerifier() {
  CodeOptions options;
  absl::StatusOr<std::unique_ptr<CodeVerifier>> v = CodeVerifier::Create(options);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? std::move(*v) : nullptr;
}

void Report(const char* what, size_t n, absl::Time start, int slots) {
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << what << ": " << n << " samples in " << seconds << " s (" << n / seconds
            << " samples/s on " << slots << " slots)" << std::endl;
}

TEST(CodeDatasets, EveryHumanEvalCanonicalSolutionPasses) {
  PONDER_REQUIRE_SANDBOX();
  auto verifier = MakeVerifier();
  ASSERT_NE(verifier, nullptr);
  std::vector<testing::CodeProblem> problems = testing::HumanEvalProblems(false);
  ASSERT_EQ(problems.size(), 164u);
  absl::Time start = absl::Now();
  int passed = 0;
  for (const testing::Scored& s :
       testing::ScoreAll(*verifier, problems, verifier->sandbox().slots())) {
    ASSERT_TRUE(s.result.ok()) << testing::Describe(s);
    EXPECT_EQ(s.result->score, 1.0) << testing::Describe(s);
    passed += s.result->score == 1.0;
  }
  Report("HumanEval canonical", problems.size(), start, verifier->sandbox().slots());
  EXPECT_EQ(passed, 164);
}

TEST(CodeDatasets, EveryMutatedHumanEvalSolutionFails) {
  PONDER_REQUIRE_SANDBOX();
  auto verifier = MakeVerifier();
  ASSERT_NE(verifier, nullptr);
  std::vector<testing::CodeProblem> problems = testing::HumanEvalProblems(true);
  absl::Time start = absl::Now();
  for (const testing::Scored& s :
       testing::ScoreAll(*verifier, problems, verifier->sandbox().slots())) {
    ASSERT_TRUE(s.result.ok()) << testing::Describe(s);
    EXPECT_EQ(s.result->score, 0.0) << testing::Describe(s);
    EXPECT_EQ(s.result->correct, false) << testing::Describe(s);
  }
  Report("HumanEval mutated", problems.size(), start, verifier->sandbox().slots());
}

TEST(CodeDatasets, NinetyNinePercentOfSanitizedMbppReferencesPass) {
  PONDER_REQUIRE_SANDBOX();
  auto verifier = MakeVerifier();
  ASSERT_NE(verifier, nullptr);
  std::vector<testing::CodeProblem> problems = testing::MbppProblems();
  ASSERT_EQ(problems.size(), 427u);
  absl::Time start = absl::Now();
  std::vector<std::string> misses;
  for (const testing::Scored& s :
       testing::ScoreAll(*verifier, problems, verifier->sandbox().slots())) {
    ASSERT_TRUE(s.result.ok()) << testing::Describe(s);
    if (s.result->score != 1.0) misses.push_back(testing::Describe(s));
  }
  Report("sanitized MBPP", problems.size(), start, verifier->sandbox().slots());
  std::cout << misses.size() << " of " << problems.size() << " MBPP references miss:\n";
  for (const auto& m : misses) std::cout << "  " << m << "\n";
  EXPECT_LE(misses.size() * 100, problems.size()) << "more than 1% of the references fail";
}

}  // namespace
}  // namespace ponder::reward
