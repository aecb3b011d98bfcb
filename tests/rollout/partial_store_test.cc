// The partial-rollout store: JSON round trip, persistence across reopen, and bad files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "rollout/partial_rollout_store.h"

namespace ponder::rollout {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string TempDir() {
  char tmpl[] = "/tmp/ponder_store_test_XXXXXX";
  const char* dir = mkdtemp(tmpl);
  return dir != nullptr ? dir : "";
}

PausedRollout Example(uint64_t prompt, uint32_t sample) {
  PausedRollout r;
  r.prompt_index = prompt;
  r.sample_index = sample;
  r.prompt = {1, 2, 3};
  r.sampling.temperature = 0.7;
  r.sampling.top_k = 5;
  r.sampling.stop_strings = {"\n\n", "</answer>"};
  r.sampling.seed = 18446744073709551615ull;
  r.sampling.round_token_budget = 4;
  r.token_ids = {7, 8, 9, 10, 11};
  r.logprobs = {-0.1f, -1.25f, -3.0e-7f, -2.5f, -0.333333343f};
  r.segments = {{3, 0, 4}, {4, 4, 5}};
  r.return_text = true;
  r.rounds = 2;
  return r;
}

void ExpectSame(const PausedRollout& a, const PausedRollout& b) {
  EXPECT_EQ(a.prompt_index, b.prompt_index);
  EXPECT_EQ(a.sample_index, b.sample_index);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.sampling.temperature, b.sampling.temperature);
  EXPECT_EQ(a.sampling.top_k, b.sampling.top_k);
  EXPECT_EQ(a.sampling.stop_strings, b.sampling.stop_strings);
  EXPECT_EQ(a.sampling.seed, b.sampling.seed);
  EXPECT_EQ(a.sampling.round_token_budget, b.sampling.round_token_budget);
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_EQ(a.logprobs, b.logprobs);  // bit-exact
  EXPECT_EQ(a.segments, b.segments);
  EXPECT_EQ(a.return_text, b.return_text);
  EXPECT_EQ(a.rounds, b.rounds);
}

TEST(PartialRolloutStoreTest, JsonRoundTripIsExact) {
  PausedRollout r = Example(5, 1);
  absl::StatusOr<PausedRollout> back =
      PartialRolloutStore::FromJson(PartialRolloutStore::ToJson(r), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(r, *back);
}

TEST(PartialRolloutStoreTest, SurvivesReopeningTheDirectory) {
  const std::string dir = TempDir();
  {
    auto store = PartialRolloutStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(Example(5, 1)).ok());
    ASSERT_TRUE((*store)->Put(Example(6, 0)).ok());
    EXPECT_TRUE((*store)->HasPrompt(5));
    EXPECT_FALSE((*store)->HasPrompt(7));
    // One taken for resuming (in flight), then the process "dies".
    std::vector<PausedRollout> taken = (*store)->TakeWaiting();
    EXPECT_EQ(taken.size(), 2u);
    EXPECT_EQ((*store)->num_waiting(), 0u);
    EXPECT_TRUE((*store)->HasPrompt(5));         // in flight still counts
    ASSERT_TRUE((*store)->Remove({6, 0}).ok());  // this one finished
  }
  std::ofstream(dir + "/paused-9-9.json.tmp") << "{";  // a write that never completed
  auto store = PartialRolloutStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->num_waiting(), 1u);
  std::vector<PausedRollout> again = (*store)->TakeWaiting();
  ASSERT_EQ(again.size(), 1u);
  ExpectSame(again[0], Example(5, 1));
  EXPECT_FALSE(fs::exists(dir + "/paused-9-9.json.tmp"));
  fs::remove_all(dir);
}

TEST(PartialRolloutStoreTest, BadFilesAreErrorsNamingThem) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/paused-1-0.json") << "{\"format\": 1, \"prompt_index\": 1}";
  auto store = PartialRolloutStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir + "/paused-1-0.json: not a paused rollout"));

  std::string json = PartialRolloutStore::ToJson(Example(1, 0));
  std::ofstream(dir + "/paused-1-0.json", std::ios::trunc) << json;
  std::ofstream(dir + "/paused-2-0.json") << json;  // holds prompt 1 under prompt 2's name
  store = PartialRolloutStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("paused-2-0.json: holds prompt_index 1"));
  fs::remove_all(dir);

  PausedRollout bad = Example(1, 0);
  bad.logprobs.pop_back();
  EXPECT_THAT(
      PartialRolloutStore::FromJson(PartialRolloutStore::ToJson(bad), "f").status().message(),
      HasSubstr("f: 5 token_ids but 4 logprobs"));
  bad = Example(1, 0);
  bad.segments = {{3, 0, 2}};
  EXPECT_THAT(
      PartialRolloutStore::FromJson(PartialRolloutStore::ToJson(bad), "f").status().message(),
      HasSubstr("segments cover 2 of 5 tokens"));
  EXPECT_THAT(PartialRolloutStore::FromJson("[1,", "g").status().message(),
              HasSubstr("g: not a paused rollout"));
}

}  // namespace
}  // namespace ponder::rollout
