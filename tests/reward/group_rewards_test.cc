// Kimi's length reward and DAPO's overlong punishment, against values computed by hand from
// the formulas in docs/design/algorithms.md §1.4 and §3.2.
#include "reward/group_rewards.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder::reward {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;

TEST(KimiLengthRewardTest, CorrectGainWhenShortWrongOnlyLose) {
  // min 10, max 30: lambda = 0.5, 0, -0.5.
  auto r = KimiLengthReward({10, 20, 30}, {true, false, true});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ElementsAre(DoubleEq(0.5), DoubleEq(0.0), DoubleEq(-0.5)));
  // Wrong answers: min(0, lambda) = 0 for the short one, -0.5 for the long one.
  r = KimiLengthReward({100, 200}, {false, false});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ElementsAre(DoubleEq(0.0), DoubleEq(-0.5)));
  // lambda = 0.5 - (25 - 10) / 40 = 0.125 for a correct answer of length 25.
  r = KimiLengthReward({10, 25, 50}, {false, true, false});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ElementsAre(DoubleEq(0.0), DoubleEq(0.125), DoubleEq(-0.5)));
}

TEST(KimiLengthRewardTest, EqualLengthsGiveZero) {
  auto r = KimiLengthReward({7, 7, 7}, {true, false, true});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ElementsAre(0.0, 0.0, 0.0));
  r = KimiLengthReward({}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(KimiLengthRewardTest, BadInputIsAnError) {
  auto r = KimiLengthReward({1, 2}, {true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "length_penalty: 2 lengths but 1 verdicts");
  r = KimiLengthReward({1, -2}, {true, true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "length_penalty: negative length -2");
}

TEST(OverlongPunishmentTest, DapoSoftPunishment) {
  // L_max 20480, L_cache 4096: free up to 16384, linear to -1 at 20480, -1 beyond.
  EXPECT_DOUBLE_EQ(OverlongPunishment(100, 20480, 4096), 0.0);
  EXPECT_DOUBLE_EQ(OverlongPunishment(16384, 20480, 4096), 0.0);
  EXPECT_DOUBLE_EQ(OverlongPunishment(18432, 20480, 4096), -0.5);
  EXPECT_DOUBLE_EQ(OverlongPunishment(17408, 20480, 4096), -0.25);
  EXPECT_DOUBLE_EQ(OverlongPunishment(20480, 20480, 4096), -1.0);
  EXPECT_DOUBLE_EQ(OverlongPunishment(30000, 20480, 4096), -1.0);
}

TEST(ApplyGroupRewardsTest, AddsEnabledTermsFromTheirStartStep) {
  LengthPenaltyOptions length;
  length.enabled = true;
  length.weight = 0.5;
  length.start_step = 10;
  OverlongOptions overlong;
  overlong.enabled = true;
  overlong.max_length = 40;
  overlong.cache_length = 20;
  overlong.factor = 2.0;
  std::vector<double> scores = {1.0, 0.0, 1.0};
  // Step 5: before start_step, only overlong: lengths 10, 20, 30 -> 0, 0, 2 * (20-30)/20 = -1.
  ASSERT_TRUE(
      ApplyGroupRewards(length, overlong, 5, {10, 20, 30}, {true, false, true}, scores).ok());
  EXPECT_THAT(scores, ElementsAre(DoubleEq(1.0), DoubleEq(0.0), DoubleEq(0.0)));
  // Step 10: plus 0.5 * (0.5, 0, -0.5).
  scores = {1.0, 0.0, 1.0};
  ASSERT_TRUE(
      ApplyGroupRewards(length, overlong, 10, {10, 20, 30}, {true, false, true}, scores).ok());
  EXPECT_THAT(scores, ElementsAre(DoubleEq(1.25), DoubleEq(0.0), DoubleEq(-0.25)));
  std::vector<double> wrong_size = {1.0};
  absl::Status status = ApplyGroupRewards(length, overlong, 10, {1, 2}, {true, true}, wrong_size);
  EXPECT_EQ(status.message(), "group rewards: 1 scores but 2 lengths");
}

}  // namespace
}  // namespace ponder::reward
