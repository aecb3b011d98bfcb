// The unbiased pass@k estimator (Chen et al. 2021) on hand-worked cases, and what counts as
// a correct sample.
#include "trainer/evaluation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder::trainer {
namespace {

double Pass(int64_t n, int64_t c, int64_t k) {
  absl::StatusOr<double> p = PassAtK(n, c, k);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : -1;
}

TEST(PassAtKTest, HandWorkedCases) {
  // 1 - C(n-c, k) / C(n, k), worked out with the binomials.
  EXPECT_DOUBLE_EQ(Pass(5, 2, 1), 2.0 / 5);            // c/n for k = 1
  EXPECT_DOUBLE_EQ(Pass(5, 2, 2), 1.0 - 3.0 / 10);     // C(3,2)=3, C(5,2)=10
  EXPECT_DOUBLE_EQ(Pass(10, 3, 5), 1.0 - 21.0 / 252);  // C(7,5)=21, C(10,5)=252
  EXPECT_NEAR(Pass(20, 1, 4), 4.0 / 20, 1e-15);        // one correct: k/n
  EXPECT_DOUBLE_EQ(Pass(4, 0, 2), 0.0);                // none correct
  EXPECT_DOUBLE_EQ(Pass(4, 3, 2), 1.0);                // fewer wrong than k
  EXPECT_DOUBLE_EQ(Pass(4, 4, 4), 1.0);
  EXPECT_DOUBLE_EQ(Pass(4, 1, 4), 1.0);  // k = n: any correct
  EXPECT_DOUBLE_EQ(Pass(4, 0, 4), 0.0);
  // Large n stays finite (no factorials): C(190,8)/C(200,8) = prod_{i=0..7} (190-i)/(200-i).
  double ratio = 1;
  for (int i = 0; i < 8; ++i) ratio *= (190.0 - i) / (200.0 - i);
  EXPECT_NEAR(Pass(200, 10, 8), 1.0 - ratio, 1e-12);
}

TEST(PassAtKTest, RejectsImpossibleCounts) {
  EXPECT_THAT(PassAtK(4, 5, 1).status().message(), ::testing::HasSubstr("n=4, c=5, k=1"));
  EXPECT_FALSE(PassAtK(4, 1, 5).ok());
  EXPECT_FALSE(PassAtK(4, 1, 0).ok());
  EXPECT_FALSE(PassAtK(4, -1, 1).ok());
}

TEST(IsCorrectTest, UsesTheVerdictWhereThereIsOneElseAPositiveScore) {
  reward::VerifyResult r;
  r.score = 0.5;
  EXPECT_TRUE(IsCorrect(r));
  r.correct = false;
  EXPECT_FALSE(IsCorrect(r));
  r.score = 0;
  r.correct = true;
  EXPECT_TRUE(IsCorrect(r));
  r.correct.reset();
  EXPECT_FALSE(IsCorrect(r));
}

}  // namespace
}  // namespace ponder::trainer
