// One generation round in its three parts (trainer/rollout_round.h) with a character
// tokenizer and a scripted reward: issuing prompts (seeds, too-long prompts), grouping
// finished samples (paused, aborted, unknown prompts) and scoring (failed samples).
#include "trainer/rollout_round.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/tokenizer.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

// Scores every item 1 unless its response is "bad" (an error).
class ScriptedReward : public reward::RewardBackend {
 public:
  absl::StatusOr<std::vector<reward::ItemResult>> Score(
      const std::vector<reward::VerifyInput>& items, const reward::BatchOptions&) override {
    std::vector<reward::ItemResult> out(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].response == "bad") {
        out[i].status = absl::InternalError("verifier crashed");
      } else {
        out[i].result.score = 1.0;
      }
    }
    return out;
  }
  absl::StatusOr<std::vector<reward::VerifierInfo>> ListVerifiers() override {
    return std::vector<reward::VerifierInfo>();
  }
};

class RolloutRoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tokenizer = model::LoadTokenizer("chars:0123456789+=abd");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    std::shared_ptr<const model::Tokenizer> shared = std::move(*tokenizer);
    auto encoder = PromptEncoder::Create(shared, {}, "");
    ASSERT_TRUE(encoder.ok()) << encoder.status();
    encoder_.emplace(std::move(*encoder));
    std::vector<PromptRecord> records(3);
    records[0].text = "1+1=";
    records[0].origin = "p0";
    records[1].text = "2+2=";
    records[1].origin = "p1";
    records[2].text = "12345678+1=";
    records[2].origin = "long";
    train_ = PromptDataset(std::move(records));
    job_.run.seed = 7;
    job_.rollout.n = 2;
    sampling_.max_new_tokens = 4;
  }

  RoundContext Context() const {
    return {.job = &job_,
            .train = &train_,
            .encoder = &*encoder_,
            .sampling = &sampling_,
            .max_seq_len = 12};
  }

  rollout::Trajectory Sample(uint64_t prompt, uint32_t index, const std::string& text,
                             rollout::FinishReason reason = rollout::FinishReason::kStop) {
    rollout::Trajectory t;
    t.prompt_index = prompt;
    t.sample_index = index;
    t.token_ids = *encoder_->tokenizer().Encode(text, {});
    t.finish_reason = reason;
    return t;
  }

  JobConfig job_;
  PromptDataset train_;
  std::optional<PromptEncoder> encoder_;
  rollout::SamplingOptions sampling_;
};

TEST_F(RolloutRoundTest, IssuesEachPromptWithItsOwnSeedAndRecordsIt) {
  PromptsInFlight prompts;
  monitor::Metrics counts;
  auto request = IssuePrompts(Context(), {1, 0}, /*step=*/2, /*round=*/1, &prompts, &counts);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->request_id, "ponder-step3-round1");
  ASSERT_EQ(request->prompts.size(), 2u);
  EXPECT_EQ(request->prompts[0].prompt_index, 0u);
  EXPECT_EQ(request->prompts[0].n, 2u);
  EXPECT_EQ(request->prompts[0].sampling.seed, MixSeed(7, 0));
  EXPECT_EQ(request->prompts[1].sampling.seed, MixSeed(7, 1));
  EXPECT_NE(MixSeed(7, 0), MixSeed(7, 1));
  EXPECT_EQ(prompts.next_uid, 2u);
  EXPECT_EQ(prompts.pending.at(0), std::make_pair(int64_t{1}, int64_t{2}));  // dataset row 1
}

TEST_F(RolloutRoundTest, APromptTooLongStopsTheRunOrIsSkippedAndCounted) {
  PromptsInFlight prompts;
  monitor::Metrics counts;
  auto request = IssuePrompts(Context(), {2}, 0, 0, &prompts, &counts);
  ASSERT_FALSE(request.ok());
  EXPECT_THAT(std::string(request.status().message()),
              HasSubstr("prompt long has 12 tokens; with rollout.sampling.max_new_tokens 4 it "
                        "exceeds the context of 12 tokens"));
  EXPECT_THAT(std::string(request.status().message()), HasSubstr("data.on_bad_sample: skip"));
  job_.data.on_bad_sample = BadSamplePolicy::kSkip;
  request = IssuePrompts(Context(), {2, 0}, 0, 0, &prompts, &counts);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->prompts.size(), 1u);
  EXPECT_EQ(counts["data/skipped_prompts"], 1);
}

TEST_F(RolloutRoundTest, GroupsFinishedSamplesByPromptAndKeepsPausedOnesOut) {
  PromptsInFlight prompts;
  monitor::Metrics counts;
  auto request = IssuePrompts(Context(), {0, 1}, 0, 0, &prompts, &counts);
  ASSERT_TRUE(request.ok());
  std::vector<rollout::Trajectory> out = {Sample(1, 1, "4"), Sample(0, 1, "2"), Sample(1, 0, "04"),
                                          Sample(0, 0, "1", rollout::FinishReason::kPaused)};
  auto groups = GroupTrajectories(Context(), *request, out, &prompts, &counts);
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].uid, 0u);
  EXPECT_EQ((*groups)[0].prompt, "1+1=");
  ASSERT_EQ((*groups)[0].samples.size(), 1u);
  EXPECT_EQ((*groups)[1].index, 1);
  ASSERT_EQ((*groups)[1].samples.size(), 2u);
  EXPECT_EQ((*groups)[1].samples[0].response, "04");  // in sample order
  EXPECT_EQ(counts["rollout/paused"], 1);
  EXPECT_EQ(counts["rollout/generated_tokens"], 5);
  // Prompt 0 still has its paused sample out; prompt 1 is done.
  EXPECT_EQ(prompts.pending.size(), 1u);
  EXPECT_EQ(prompts.pending.at(0).second, 1);

  auto unknown = GroupTrajectories(Context(), *request, {Sample(9, 0, "1")}, &prompts, &counts);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("unknown prompt 9"));
  auto aborted = GroupTrajectories(
      Context(), *request, {Sample(0, 0, "1", rollout::FinishReason::kAborted)}, &prompts, &counts);
  EXPECT_EQ(aborted.status().code(), absl::StatusCode::kAborted);
}

TEST_F(RolloutRoundTest, AResumedPartialRolloutGetsItsPromptBack) {
  PromptsInFlight prompts;
  prompts.next_uid = 5;
  prompts.pending[4] = {1, 1};  // issued in an earlier step, one sample paused
  monitor::Metrics counts;
  auto groups = GroupTrajectories(Context(), rollout::GenerateRequest{}, {Sample(4, 1, "4")},
                                  &prompts, &counts);
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].prompt_ids, *encoder_->Encode(train_[1]));
  EXPECT_EQ(counts["rollout/resumed"], 1);
  EXPECT_TRUE(prompts.pending.empty());
}

TEST_F(RolloutRoundTest, ASampleThatCannotBeScoredStopsTheRunOrIsDropped) {
  PromptsInFlight prompts;
  monitor::Metrics counts;
  auto request = IssuePrompts(Context(), {0, 1}, 0, 0, &prompts, &counts);
  ASSERT_TRUE(request.ok());
  auto groups = GroupTrajectories(
      Context(), *request,
      {Sample(0, 0, "bad"), Sample(0, 1, "2"), Sample(1, 0, "bad"), Sample(1, 1, "bad")}, &prompts,
      &counts);
  ASSERT_TRUE(groups.ok()) << groups.status();
  ScriptedReward reward;
  std::vector<Group> failing = *groups;
  absl::Status status = ScoreGroups(Context(), reward, &failing, &counts);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("scoring sample 0 of prompt p0: verifier crashed"));
  job_.data.on_bad_sample = BadSamplePolicy::kSkip;
  ASSERT_TRUE(ScoreGroups(Context(), reward, &*groups, &counts).ok());
  ASSERT_EQ(groups->size(), 1u);  // prompt 1 lost both samples
  ASSERT_EQ((*groups)[0].samples.size(), 1u);
  EXPECT_EQ((*groups)[0].samples[0].response, "2");
  EXPECT_EQ((*groups)[0].samples[0].result.score, 1.0);
  EXPECT_EQ(counts["reward/errors"], 3);
}

}  // namespace
}  // namespace ponder::trainer
