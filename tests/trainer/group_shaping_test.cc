#include "trainer/group_shaping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reward/group_rewards.h"

namespace ponder::trainer {
namespace {

TEST(GroupShapingTest, KimiLengthPenaltyWithWarmupByHand) {
  reward::LengthPenaltyOptions lp;
  lp.enabled = true;
  lp.weight = 0.5;
  lp.start_step = 3;
  GroupShaping shaping = RewardGroupShaping(lp, reward::OverlongOptions());
  ASSERT_TRUE(shaping);
  // Lengths 2, 4, 6: lambda = 0.5 - (len - 2) / 4 = 0.5, 0, -0.5. Correct answers get lambda,
  // the wrong one min(0, lambda) = -0.5; times weight 0.5.
  std::vector<double> scores = {1, 1, 0};
  ASSERT_TRUE(shaping(2, {2, 4, 6}, {true, true, false}, scores).ok());
  EXPECT_EQ(scores, (std::vector<double>{1, 1, 0})) << "warm-up: not yet";
  ASSERT_TRUE(shaping(3, {2, 4, 6}, {true, true, false}, scores).ok());
  EXPECT_DOUBLE_EQ(scores[0], 1.25);
  EXPECT_DOUBLE_EQ(scores[1], 1.0);
  EXPECT_DOUBLE_EQ(scores[2], -0.25);
}

TEST(GroupShapingTest, DapoOverlongByHand) {
  reward::OverlongOptions o;
  o.enabled = true;
  o.max_length = 10;
  o.cache_length = 4;
  GroupShaping shaping = RewardGroupShaping(reward::LengthPenaltyOptions(), o);
  ASSERT_TRUE(shaping);
  // L - C = 6: length 6 -> 0, 8 -> (6 - 8) / 4 = -0.5, 12 -> -1.
  std::vector<double> scores = {1, 1, 1};
  ASSERT_TRUE(shaping(0, {6, 8, 12}, {true, true, true}, scores).ok());
  EXPECT_EQ(scores, (std::vector<double>{1, 0.5, 0}));
}

TEST(GroupShapingTest, NothingEnabledIsNoHook) {
  EXPECT_FALSE(RewardGroupShaping(reward::LengthPenaltyOptions(), reward::OverlongOptions()));
}

}  // namespace
}  // namespace ponder::trainer
