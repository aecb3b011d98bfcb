// The end-of-run summary of ponder train (trainer/progress.h).
#include "trainer/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(ProgressTest, SummaryOfTheStepsThisProcessRan) {
  ProgressPrinter progress(/*enabled=*/false, /*total=*/10, /*first_step=*/4);  // resumed at 4
  progress.Step(5, {{"reward/score/mean", 0.25}, {"reward/accuracy", 0.125}});
  progress.Eval(5, {{"val/arith/mean@4", 0.5}, {"val/arith/score/mean", 0.7}});
  progress.Step(6, {{"reward/score/mean", 0.5}, {"reward/accuracy", 0.375}});
  const std::string line = progress.SummaryLine();
  EXPECT_THAT(line, MatchesRegex("done: 2 steps in 0:00 \\([0-9.]+ s/step\\).*"));
  EXPECT_THAT(line, HasSubstr("| reward 0.250 -> 0.500 | acc 0.125 -> 0.375"));
  EXPECT_THAT(line, HasSubstr("| eval step 5: mean@4 0.500"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("score/mean 0.7")));
  EXPECT_EQ(ProgressPrinter(false, 3, 3).SummaryLine(), "done: 0 steps in 0:00");
}

}  // namespace
}  // namespace ponder::trainer
