// The `rollout:` config section: defaults, parsing, and errors that name the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/config.h"
#include "rollout/rollout_options.h"

namespace ponder::rollout {
namespace {

using ::testing::HasSubstr;

struct Job {
  RolloutOptions rollout;
  void Bind(config::Binder& b) { b.Field("rollout", rollout); }
};

TEST(RolloutOptionsTest, ParsesEveryField) {
  absl::StatusOr<Job> job = config::LoadString<Job>(R"(
rollout:
  n: 16
  max_seq_len: 4096
  kv_cache_bytes: 1073741824
  max_running: 64
  max_step_tokens: 512
  partial_store_dir: /tmp/paused
  sampling:
    temperature: 0.7
    top_p: 0.95
    top_k: 50
    min_p: 0.05
    repetition_penalty: 1.1
    max_new_tokens: 2048
    stop_token_ids: [2, 151645]
    stop_strings: ["</answer>"]
    seed: 7
    repeat_ngram: 20
    repeat_count: 3
    round_token_budget: 512
)",
                                                    "job.yaml", {"rollout.sampling.top_k=40"});
  ASSERT_TRUE(job.ok()) << job.status();
  const RolloutOptions& r = job->rollout;
  EXPECT_EQ(r.n, 16);
  EXPECT_EQ(r.max_seq_len, 4096);
  EXPECT_EQ(r.kv_cache_bytes, int64_t{1} << 30);
  EXPECT_EQ(r.max_running, 64);
  EXPECT_EQ(r.max_step_tokens, 512);
  EXPECT_EQ(r.partial_store_dir, "/tmp/paused");
  EXPECT_EQ(r.sampling.temperature, 0.7);
  EXPECT_EQ(r.sampling.top_k, 40);  // the override wins
  EXPECT_EQ(r.sampling.stop_token_ids, (std::vector<int32_t>{2, 151645}));
  EXPECT_EQ(r.sampling.stop_strings, (std::vector<std::string>{"</answer>"}));
  EXPECT_EQ(r.sampling.seed, 7u);
  EXPECT_EQ(r.sampling.round_token_budget, 512);
  // Written back in full and read again: the same.
  absl::StatusOr<Job> again = config::LoadString<Job>(config::ToYaml(*job), "again.yaml");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(config::ToYaml(*again), config::ToYaml(*job));
}

TEST(RolloutOptionsTest, ErrorsNameTheKey) {
  auto error = [](const std::string& yaml) {
    absl::StatusOr<Job> job = config::LoadString<Job>(yaml, "bad.yaml");
    EXPECT_FALSE(job.ok());
    return std::string(job.status().message());
  };
  EXPECT_THAT(error("rollout: {n: 0}"), HasSubstr("rollout.n must be >= 1 (got 0)"));
  EXPECT_THAT(error("rollout: {sampling: {top_p: 1.5}}"),
              HasSubstr("rollout.sampling.top_p must be <= 1 (got 1.5)"));
  EXPECT_THAT(error("rollout: {sampling: {temperature: -1}}"),
              HasSubstr("rollout.sampling.temperature must be >= 0"));
  EXPECT_THAT(error("rollout: {sampling: {repeat_ngram: 4}}"),
              HasSubstr("repeat_ngram and repeat_count must be set together"));
  EXPECT_THAT(error("rollout: {max_seq_len: 100, sampling: {max_new_tokens: 100}}"),
              HasSubstr("sampling.max_new_tokens (100) must be below max_seq_len (100)"));
  EXPECT_THAT(error("rollout: {kv_cache_byte: 5}"),
              HasSubstr("unknown key 'rollout.kv_cache_byte'"));
}

}  // namespace
}  // namespace ponder::rollout
