// The engine's batch scheduler on its own (rollout/internal/scheduler.h): what happens to a
// prompt's samples when they cannot fork its prefill's KV cache blocks.
#include "rollout/internal/scheduler.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "model/kv_cache.h"
#include "model/model_config.h"

namespace ponder::rollout::internal {
namespace {

using ::testing::HasSubstr;

model::KvCache TinyCache() {
  model::ModelConfig config;
  config.vocab_size = 16;
  config.hidden_size = 8;
  config.num_layers = 1;
  config.num_heads = 2;
  config.num_kv_heads = 1;
  config.head_dim = 4;
  absl::StatusOr<model::KvCache> cache = model::KvCache::Create(
      config, {.max_seq_len = 32, .num_slots = 4, .block_size = 4, .num_blocks = 16}, at::kFloat,
      at::kCPU);
  EXPECT_TRUE(cache.ok()) << cache.status();
  return std::move(*cache);
}

// A prompt of `length` tokens with `n` samples, as the engine enqueues it.
SequenceGroup Group(const std::shared_ptr<RequestState>& request, uint64_t prompt_index, int length,
                    uint32_t n) {
  auto prompt = std::make_shared<PromptData>();
  prompt->prompt_index = prompt_index;
  for (int i = 0; i < length; ++i) prompt->tokens.push_back(1 + i % 10);
  prompt->sampling.max_new_tokens = 8;
  SequenceGroup group;
  for (uint32_t i = 0; i < n; ++i) {
    group.push_back(std::make_unique<Sequence>(request, prompt, i, nullptr, 16));
  }
  return group;
}

TEST(SchedulerTest, AFailedForkEndsTheFollowersWithAnErrorAndFreesTheirSlots) {
  Scheduler scheduler(TinyCache(), {.max_running = 4, .max_step_tokens = 64});
  auto request = std::make_shared<RequestState>();
  auto other = std::make_shared<RequestState>();
  scheduler.Enqueue(Group(request, 7, 6, 3));
  scheduler.Enqueue(Group(other, 8, 5, 1));
  Scheduler::Plan plan = scheduler.PlanStep();
  // Both leaders prefill; the two followers of prompt 7 hold a slot and wait to fork.
  ASSERT_EQ(plan.rows.size(), 2u);
  Sequence* leader = plan.rows[0];
  ASSERT_EQ(leader->prompt().prompt_index, 7u);
  ASSERT_EQ(leader->followers.size(), 2u);
  EXPECT_EQ(scheduler.num_running(), 4);
  // The leaders' prefill as the model would write it.
  model::KvCache& cache = scheduler.mutable_cache();
  for (size_t r = 0; r < plan.rows.size(); ++r) {
    const auto n = static_cast<int64_t>(plan.tokens[r].size());
    ASSERT_TRUE(cache.PrepareAppend(plan.slots[r], n).ok());
    cache.SetLength(plan.slots[r], n);
  }
  // A follower's slot is no longer acquired: KvCache::Fork refuses the whole fork.
  const int64_t lost = leader->followers[1]->slot;
  const int64_t kept = leader->followers[0]->slot;
  ASSERT_TRUE(cache.Release(lost).ok());

  std::vector<Scheduler::Sampler> samplers = scheduler.Commit(plan);
  // The leaders sample; the followers do not.
  ASSERT_EQ(samplers.size(), 2u);
  EXPECT_EQ(samplers[0].seq, leader);
  EXPECT_EQ(samplers[1].seq->prompt().prompt_index, 8u);
  std::vector<std::unique_ptr<Sequence>> failed = scheduler.TakeFailed();
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& f : failed) {
    EXPECT_EQ(f->slot, -1);
    EXPECT_EQ(f->prompt().prompt_index, 7u);
  }
  EXPECT_TRUE(scheduler.TakeFailed().empty());
  EXPECT_FALSE(cache.in_use(kept));  // freed
  EXPECT_FALSE(cache.in_use(lost));
  EXPECT_TRUE(leader->followers.empty());
  EXPECT_EQ(scheduler.num_running(), 2);
  // The request learns why; the other request is untouched.
  EXPECT_EQ(request->end_status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(request->end_status.message(),
              HasSubstr("rollout engine: 2 samples of prompt 7 could not share its prefill in "
                        "the KV cache (KvCache::Fork target: slot "));
  EXPECT_THAT(request->end_status.message(), HasSubstr("they end with this error"));
  EXPECT_TRUE(other->end_status.ok());

  // Without the failure, the followers fork and sample from the leader's row.
  Scheduler fine(TinyCache(), {.max_running = 4, .max_step_tokens = 64});
  auto ok_request = std::make_shared<RequestState>();
  fine.Enqueue(Group(ok_request, 9, 6, 3));
  plan = fine.PlanStep();
  ASSERT_EQ(plan.rows.size(), 1u);
  ASSERT_TRUE(fine.mutable_cache().PrepareAppend(plan.slots[0], 6).ok());
  fine.mutable_cache().SetLength(plan.slots[0], 6);
  samplers = fine.Commit(plan);
  ASSERT_EQ(samplers.size(), 3u);
  for (const Scheduler::Sampler& s : samplers) {
    EXPECT_EQ(s.row, 0);
    EXPECT_EQ(fine.cache().length(s.seq->slot), 6);
  }
  EXPECT_TRUE(fine.TakeFailed().empty());
  EXPECT_TRUE(ok_request->end_status.ok());
}

}  // namespace
}  // namespace ponder::rollout::internal
