// What rank 0 sends the other trainer ranks each step: a round trip, and bytes that do not
// parse (a peer of another version, a truncated or corrupt message) named as such.
#include "trainer/step_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

StepMessage Sample() {
  StepMessage m;
  m.step = 41;
  m.batch.push_back({.prompt_ids = {1, 2, 3},
                     .response_ids = {4, 5},
                     .behaviour_log_probs = {-0.5f, -1.25f},
                     .score = 0.75,
                     .correct = true,
                     .truncated = false,
                     .group = 7});
  m.batch.push_back({.prompt_ids = {9},
                     .response_ids = {8, 7, 6},
                     .behaviour_log_probs = {},
                     .score = -1.0,
                     .correct = std::nullopt,
                     .truncated = true,
                     .group = 8});
  return m;
}

TEST(StepMessageTest, RoundTrips) {
  const StepMessage in = Sample();
  auto out = DecodeStepMessage(EncodeStepMessage(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, StepMessage::Kind::kBatch);
  EXPECT_EQ(out->step, 41);
  ASSERT_EQ(out->batch.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Trajectory& a = in.batch[i];
    const Trajectory& b = out->batch[i];
    EXPECT_EQ(a.prompt_ids, b.prompt_ids);
    EXPECT_EQ(a.response_ids, b.response_ids);
    EXPECT_EQ(a.behaviour_log_probs, b.behaviour_log_probs);
    EXPECT_EQ(a.score, b.score);
    EXPECT_EQ(a.correct, b.correct);
    EXPECT_EQ(a.truncated, b.truncated);
    EXPECT_EQ(a.group, b.group);
  }
  auto stop = DecodeStepMessage(EncodeStepMessage({StepMessage::Kind::kCancel, 0, {}}));
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(stop->kind, StepMessage::Kind::kCancel);
  EXPECT_TRUE(stop->batch.empty());
}

TEST(StepMessageTest, BadBytesAreDataLossSayingWhere) {
  const std::string good = EncodeStepMessage(Sample());
  struct Case {
    std::string bytes;
    std::string message;
  };
  std::string other_version = good;
  other_version[4] = 9;
  std::string bad_kind = good;
  bad_kind[8] = 7;
  std::string huge_count = good;
  huge_count[17] = 0x7f;  // the batch size's high bytes
  std::string bad_flag = good;
  bad_flag[25 + 16] = 5;  // the first trajectory's verdict
  const Case cases[] = {
      {"", "the header at byte 0 needs 1 bytes, 0 remain"},
      {"XSTP" + good.substr(4), "not a step message"},
      {other_version, "version 9, this ponder reads version 1"},
      {bad_kind, "unknown kind 7"},
      {huge_count, "trajectories cannot fit in"},
      {good.substr(0, good.size() - 3), "behaviour log-probs at byte"},
      {good + "x", "1 bytes left over after 2 trajectories"},
      {bad_flag, "trajectory 0 has a bad verdict or truncation flag"},
  };
  for (const Case& c : cases) {
    auto out = DecodeStepMessage(c.bytes);
    ASSERT_FALSE(out.ok()) << c.message;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace ponder::trainer
