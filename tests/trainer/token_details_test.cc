// Per-token detail lines from the learner's rows (trainer/token_details.h): which rows, how
// they join groups and trajectories, the token text, and rows that do not fit.
#include "trainer/token_details.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/tokenizer.h"

namespace ponder::trainer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> Rows(double share, size_t batch_size, int64_t max_samples) {
  monitor::MonitorOptions monitor;
  monitor.token_details = share;
  monitor.max_samples_per_step = max_samples;
  return TokenDetailRows(monitor, batch_size);
}

TEST(TokenDetailsTest, TheFirstRowsOfTheWrittenSamples) {
  EXPECT_TRUE(Rows(0.0, 32, 256).empty());
  EXPECT_THAT(Rows(0.1, 32, 256), ElementsAre(0, 1, 2));
  EXPECT_THAT(Rows(0.01, 8, -1), ElementsAre(0));
  EXPECT_EQ(Rows(1.0, 32, -1).size(), 32u);
  EXPECT_THAT(Rows(0.5, 32, 4), ElementsAre(0, 1));  // of the 4 samples written
  EXPECT_TRUE(Rows(0.5, 32, 0).empty());
  EXPECT_TRUE(Rows(0.5, 0, 256).empty());
}

// Two groups; batch row 1 is sample 2 of the group with uid 41.
struct Fixture {
  std::vector<Group> groups = std::vector<Group>(2);
  TrainingBatch batch;
  Fixture(const std::vector<int32_t>& ids) {
    groups[1].uid = 41;
    groups[1].samples.resize(3);
    groups[1].samples[2].trajectory.sample_index = 2;
    batch.trajectories.resize(2);
    batch.trajectories[1].response_ids = ids;
    batch.position = {{0, 0}, {1, 2}};
  }
};

TEST(TokenDetailsTest, RecordsJoinGroupTrajectoryAndLearnerRow) {
  auto tokenizer = model::LoadTokenizer("chars:0123456789+=é\n");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::vector<int32_t> ids = *(*tokenizer)->Encode("1é=2\n");
  ASSERT_EQ(ids.size(), 5u);
  Fixture f(ids);
  f.batch.trajectories[1].behaviour_log_probs = {-0.5f, -1, -0.25f, -2, -0.125f};
  RowTokenDetail d;
  d.row = 1;
  d.logprobs = {-0.5f, -1.5f, -0.25f, -2, -0.1f};
  d.entropy = {1, 2, 0.5f, 0, 0.25f};
  d.advantages = std::vector<float>(5, 0.75f);
  d.loss_mask = {1, 1, 1, 1, 0};
  auto records = TokenDetailRecords(3, f.groups, f.batch, {d}, **tokenizer);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  const monitor::TokenDetailRecord& r = records->front();
  EXPECT_EQ(r.step, 3);
  EXPECT_EQ(r.prompt_uid, 41u);
  EXPECT_EQ(r.sample_index, 2);
  EXPECT_EQ(r.token_ids, ids);
  EXPECT_THAT(r.tokens, ElementsAre("1", "é", "=", "2", "\n"));
  EXPECT_EQ(r.behaviour_logprobs, f.batch.trajectories[1].behaviour_log_probs);
  EXPECT_EQ(r.logprobs, d.logprobs);
  EXPECT_EQ(r.entropy, d.entropy);
  EXPECT_EQ(r.advantage, d.advantages);
  EXPECT_EQ(r.loss_mask, d.loss_mask);
}

TEST(TokenDetailsTest, RowsThatDoNotFitAreErrors) {
  auto tokenizer = model::LoadTokenizer("chars:0123456789");
  ASSERT_TRUE(tokenizer.ok());
  Fixture f({1, 2});
  RowTokenDetail d;
  d.row = 2;
  auto r = TokenDetailRecords(1, f.groups, f.batch, {d}, **tokenizer);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("token detail of row 2: the batch has 2 samples"));
  d.row = 1;
  d.logprobs = {-1, -1};
  d.advantages = {0, 0};
  d.loss_mask = {1};
  r = TokenDetailRecords(1, f.groups, f.batch, {d}, **tokenizer);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("row 1: 2 response tokens but 2 log-probs, 0 entropies, 2 advantages and "
                        "1 loss-mask values"));
}

}  // namespace
}  // namespace ponder::trainer
