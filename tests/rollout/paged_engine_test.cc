// The engine over a paged KV cache: the budget bounds the tokens held (not max_seq_len), a
// prompt's blocks are shared by its samples, and a pool too small for the work preempts and
// recomputes samples without losing, repeating or changing any of them, with partial rollouts
// and weight updates as well.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "tests/rollout/engine_test_util.h"
#include "tests/rollout/tiny_model.h"

namespace ponder::rollout {
namespace {

using testing::ByKey;
using testing::Engine;
using testing::ExpectSameSamples;
using ::testing::HasSubstr;
using testing::Key;
using testing::Model;
using testing::Options;
using testing::Prompt;
using testing::Request;
using testing::Resume;
using testing::RunAll;
using testing::Sampling;

// Bytes of one token's keys and values in the tiny model (2 layers x 2 x 2 kv heads x 8 dims x
// 4 bytes).
constexpr int64_t kTokenBytes = 256;

TEST(PagedEngineTest, TheBudgetBoundsTheTokensHeldNotMaxSeqLen) {
  auto model = Model(1);
  const model::ModelConfig& c = model->config();
  ASSERT_EQ(2 * c.num_layers * c.num_kv_heads * c.head_dim * 4, kTokenBytes);
  // 28 blocks of 16 tokens: 3.5 sequences of max_seq_len 128 if each reserved its maximum;
  // the ten samples below hold at most 2 blocks each, so all of them run at once.
  EngineOptions o = Options(0);
  o.kv_cache_bytes = 28 * 16 * kTokenBytes + 100;
  auto engine = Engine(model, o);
  EXPECT_EQ(engine->kv_cache_blocks(), 28);
  EXPECT_EQ(engine->kv_block_size(), 16);
  std::vector<Trajectory> out = RunAll(
      *engine, Request({Prompt(0, 4, 6, Sampling(1, 16)), Prompt(1, 8, 4, Sampling(2, 10))}));
  EXPECT_EQ(out.size(), 10u);
  for (const Trajectory& t : out) EXPECT_EQ(t.finish_reason, FinishReason::kLength);
  EXPECT_EQ(engine->counters().peak_running, 10);
  EXPECT_EQ(engine->counters().preemptions, 0);
  BackendStatus status = *engine->GetStatus();
  EXPECT_EQ(status.kv_cache_bytes_budget, static_cast<uint64_t>(28 * 16 * kTokenBytes));
  EXPECT_EQ(status.active_sequences, 0u);
  EXPECT_EQ(status.kv_cache_bytes_used, 0u);
  EXPECT_EQ(status.generated_tokens_total, 6u * 16 + 4 * 10);

  // A pool must hold one sequence of max_seq_len tokens.
  o.kv_cache_bytes = 128 * kTokenBytes - 1;
  absl::StatusOr<std::unique_ptr<RolloutEngine>> none = RolloutEngine::Create(model, o);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(),
              HasSubstr(absl::StrCat("rollout.kv_cache_bytes: KV cache memory budget of ",
                                     128 * kTokenBytes - 1,
                                     " bytes is below one sequence: 128 "
                                     "tokens need ",
                                     128 * kTokenBytes, " bytes")));
  o.kv_cache_bytes = int64_t{1} << 20;
  o.kv_block_size = 0;
  none = RolloutEngine::Create(model, o);
  EXPECT_THAT(none.status().message(), HasSubstr("rollout.kv_block_size must be >= 1 (got 0)"));
}

TEST(PagedEngineTest, ThePromptsBlocksAreStoredOnceForItsSamples) {
  // 37 prompt tokens: two full blocks of 16 and one of 5. The eight samples share them; each
  // then writes 10 tokens to the cache (its 11th is sampled, never fed): the partly filled
  // block is copied for seven of them, so the peak is 2 + 8 blocks (unshared: 8 x 3 = 24).
  auto model = Model(1);
  auto engine = Engine(model, Options(8));
  std::vector<Trajectory> out = RunAll(*engine, Request({Prompt(0, 37, 8, Sampling(1, 11))}));
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(engine->counters().prefill_tokens, 37);
  EXPECT_EQ(engine->counters().peak_kv_blocks, 10);
}

// A pool that holds one longest sequence (and a little more) running many samples: the
// scheduler must preempt, and every sample must still come back exactly once, equal to the
// same request on a pool that never runs out.
TEST(PagedEngineTest, PreemptionUnderATinyPoolKeepsEverySampleAndItsTokens) {
  struct Case {
    int64_t block_size, pool_tokens, max_step_tokens;
  };
  auto model = Model(4);
  SamplingOptions nucleus = Sampling(9, 40, 1.0);
  nucleus.top_p = 0.9;
  const GenerateRequest request =
      Request({Prompt(0, 5, 3, Sampling(7, 40)), Prompt(1, 12, 3, nucleus),
               Prompt(2, 9, 2, Sampling(0, 35, 0.0)), Prompt(3, 3, 4, Sampling(8, 30, 0.7))});
  std::map<Key, Trajectory> want = ByKey(RunAll(*Engine(model, Options(0, 64)), request));
  ASSERT_EQ(want.size(), 12u);
  for (const Case& c : std::vector<Case>{{4, 64, 2048}, {1, 70, 2048}, {16, 64, 5}, {7, 77, 9}}) {
    SCOPED_TRACE(::testing::Message() << "block " << c.block_size << ", pool " << c.pool_tokens
                                      << " tokens, step " << c.max_step_tokens);
    EngineOptions o = Options(0, 64);
    o.kv_block_size = c.block_size;
    o.kv_cache_bytes = c.pool_tokens * kTokenBytes;
    o.max_step_tokens = c.max_step_tokens;
    auto engine = Engine(model, o);
    std::vector<Trajectory> out = RunAll(*engine, request);
    std::map<Key, Trajectory> got = ByKey(out);
    EXPECT_EQ(out.size(), 12u);  // none twice
    ASSERT_EQ(got.size(), 12u);  // none lost
    for (const auto& [key, t] : want) ExpectSameSamples(t, got.at(key));
    EXPECT_GT(engine->counters().preemptions, 0);
    EXPECT_LE(engine->counters().peak_kv_blocks, engine->kv_cache_blocks());
    EXPECT_EQ(engine->GetStatus()->kv_cache_bytes_used, 0u);
  }
}

// Partial rollouts over three rounds with a weight update before each later round, on a pool
// that forces preemptions within rounds: the same tokens, segments and log-probs as with a
// pool that never runs out.
TEST(PagedEngineTest, PartialRolloutsAcrossWeightVersionsResumeUnderATinyPool) {
  auto run = [](int64_t pool_tokens, int64_t* preemptions) {
    auto v1 = Model(11), v2 = Model(12);
    EngineOptions o = Options(0, 64);
    o.kv_block_size = 4;
    o.kv_cache_bytes = pool_tokens * kTokenBytes;
    auto engine = Engine(Model(3), o);
    SamplingOptions s = Sampling(5, 30, 1.0);
    s.round_token_budget = 12;
    std::map<Key, Trajectory> out;
    for (const Trajectory& t :
         RunAll(*engine, Request({Prompt(7, 6, 3, s), Prompt(8, 10, 2, s)}))) {
      EXPECT_EQ(t.finish_reason, FinishReason::kPaused);
    }
    EXPECT_TRUE(engine->UpdateWeights(1, testing::WeightsOf(v1)).ok());
    RunAll(*engine, Resume());
    EXPECT_TRUE(engine->UpdateWeights(2, testing::WeightsOf(v2)).ok());
    out = ByKey(RunAll(*engine, Resume()));
    *preemptions = engine->counters().preemptions;
    return out;
  };
  int64_t roomy_preemptions = 0, tiny_preemptions = 0;
  std::map<Key, Trajectory> want = run(4096, &roomy_preemptions);
  std::map<Key, Trajectory> got = run(64, &tiny_preemptions);
  EXPECT_EQ(roomy_preemptions, 0);
  EXPECT_GT(tiny_preemptions, 0);
  ASSERT_EQ(want.size(), 5u);
  ASSERT_EQ(got.size(), 5u);
  for (const auto& [key, t] : want) {
    EXPECT_EQ(t.segments, (std::vector<Segment>{{0, 0, 12}, {1, 12, 24}, {2, 24, 30}}));
    ExpectSameSamples(t, got.at(key));
    EXPECT_EQ(got.at(key).segments, t.segments);
  }
}

}  // namespace
}  // namespace ponder::rollout
