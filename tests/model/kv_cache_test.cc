// The paged KV cache's bookkeeping: blocks taken and returned under random arrivals, forks and
// finishes (with every slot's contents checked through its block table), prompts shared by
// forked samples stored once, copy on write, and the budget's errors.
#include "model/kv_cache.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "model/model_config.h"

namespace ponder::model {
namespace {

using ::testing::HasSubstr;

// One layer, one KV head of 2 dims: 16 bytes per token in float32.
ModelConfig Config() {
  ModelConfig c;
  c.num_layers = 1;
  c.num_kv_heads = 1;
  c.head_dim = 2;
  return c;
}

KvCache Make(int64_t num_blocks, int64_t block_size, int64_t max_seq_len = 64,
             int64_t num_slots = 0) {
  KvCacheOptions o;
  o.max_seq_len = max_seq_len;
  o.block_size = block_size;
  o.num_blocks = num_blocks;
  o.num_slots = num_slots;
  absl::StatusOr<KvCache> cache = KvCache::Create(Config(), o, at::kFloat, at::kCPU);
  EXPECT_TRUE(cache.ok()) << cache.status();
  return std::move(cache).value();
}

// Appends `values` to `slot` as Step does: blocks first, then the keys (one float per
// position is enough to tell tokens apart), then the length.
void Append(KvCache& cache, int64_t slot, const std::vector<float>& values) {
  const int64_t n = static_cast<int64_t>(values.size()), start = cache.length(slot);
  ASSERT_TRUE(cache.PrepareAppend(slot, n).ok());
  at::Tensor keys = cache.keys(0);
  for (int64_t i = 0; i < n; ++i) keys[cache.Row(slot, start + i)][0][0] = values[i];
  cache.SetLength(slot, start + n);
}

std::vector<float> Read(const KvCache& cache, int64_t slot) {
  std::vector<float> out;
  at::Tensor keys = cache.keys(0);
  for (int64_t t = 0; t < cache.length(slot); ++t) {
    out.push_back(keys[cache.Row(slot, t)][0][0].item<float>());
  }
  return out;
}

// Blocks referenced by the slots' tables, each as often as it is listed.
std::map<int32_t, int64_t> Listed(const KvCache& cache) {
  std::map<int32_t, int64_t> listed;
  for (int64_t s = 0; s < cache.num_slots(); ++s) {
    if (!cache.in_use(s)) continue;
    for (int32_t b : cache.block_table(s)) ++listed[b];
  }
  return listed;
}

void ExpectConsistent(const KvCache& cache) {
  std::map<int32_t, int64_t> listed = Listed(cache);
  int64_t free = 0;
  for (int32_t b = 0; b < cache.num_blocks(); ++b) {
    const int64_t refs = listed.count(b) ? listed[b] : 0;
    EXPECT_EQ(cache.block_refs(b), refs) << "block " << b;
    if (refs == 0) ++free;
  }
  EXPECT_EQ(cache.num_free_blocks(), free);
  for (int64_t s = 0; s < cache.num_slots(); ++s) {
    if (!cache.in_use(s)) continue;
    const int64_t blocks = static_cast<int64_t>(cache.block_table(s).size());
    EXPECT_EQ(blocks, (cache.length(s) + cache.block_size() - 1) / cache.block_size())
        << "slot " << s;
  }
}

// Random arrivals, appends of 1-20 tokens, forks and finishes in random order, on pools of
// several block sizes; every slot must read back exactly what was appended to it (and to the
// slot it was forked from), and the pool's counts must match the tables at every step.
TEST(KvCacheTest, BlocksAreTakenAndReturnedUnderRandomArrivalsForksAndFinishes) {
  struct Case {
    uint64_t seed;
    int64_t block_size, num_blocks;
  };
  for (const Case& c : std::vector<Case>{{1, 16, 40}, {2, 4, 64}, {3, 1, 200}, {4, 7, 30}}) {
    SCOPED_TRACE(testing::Message() << "seed " << c.seed << ", block " << c.block_size);
    KvCache cache = Make(c.num_blocks, c.block_size, /*max_seq_len=*/64, /*num_slots=*/12);
    std::mt19937_64 rng(c.seed);
    std::map<int64_t, std::vector<float>> want;  // slot -> its tokens
    float next_value = 1;
    for (int op = 0; op < 600; ++op) {
      const int kind = static_cast<int>(rng() % 4);
      if (kind == 0 && cache.num_free() > 0) {
        want[*cache.Acquire()] = {};
      } else if (kind == 1 && !want.empty()) {
        auto it = std::next(want.begin(), static_cast<long>(rng() % want.size()));
        const int64_t n = 1 + static_cast<int64_t>(rng() % 20);
        if (cache.length(it->first) + n > cache.max_seq_len()) continue;
        if (cache.BlocksToAppend(it->first, n) > cache.num_free_blocks()) {
          const int64_t free = cache.num_free_blocks();
          absl::Status s = cache.PrepareAppend(it->first, n);
          EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
          EXPECT_THAT(std::string(s.message()), HasSubstr("free blocks"));
          EXPECT_EQ(cache.num_free_blocks(), free);
          continue;
        }
        std::vector<float> values;
        for (int64_t i = 0; i < n; ++i) values.push_back(next_value++);
        Append(cache, it->first, values);
        it->second.insert(it->second.end(), values.begin(), values.end());
      } else if (kind == 2 && !want.empty() && cache.num_free() > 0) {
        auto it = std::next(want.begin(), static_cast<long>(rng() % want.size()));
        const int64_t child = *cache.Acquire();
        ASSERT_TRUE(cache.Fork(it->first, {child}).ok());
        want[child] = it->second;
      } else if (kind == 3 && !want.empty()) {
        auto it = std::next(want.begin(), static_cast<long>(rng() % want.size()));
        ASSERT_TRUE(cache.Release(it->first).ok());
        want.erase(it);
      }
      ExpectConsistent(cache);
      for (const auto& [slot, values] : want) ASSERT_EQ(Read(cache, slot), values) << op;
    }
    for (const auto& [slot, values] : want) ASSERT_TRUE(cache.Release(slot).ok());
    EXPECT_EQ(cache.num_free_blocks(), cache.num_blocks());
  }
}

TEST(KvCacheTest, APromptSharedByForkedSamplesIsStoredOnce) {
  // 37 prompt tokens in blocks of 16: two full blocks and one partly filled; 32 tokens: two
  // full blocks. Eight samples share them; their first tokens copy the partly filled block
  // (all but the last writer) or start new blocks.
  struct Case {
    int64_t prompt;
    int64_t after_fork, after_first_token;
  };
  for (const Case& c : std::vector<Case>{{37, 3, 2 + 8}, {32, 2, 2 + 8}, {5, 1, 8}}) {
    KvCache cache = Make(64, 16, 128, 8);
    const int64_t leader = *cache.Acquire();
    std::vector<float> prompt(static_cast<size_t>(c.prompt));
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<float>(i);
    Append(cache, leader, prompt);
    std::vector<int64_t> samples;
    for (int i = 0; i < 7; ++i) samples.push_back(*cache.Acquire());
    ASSERT_TRUE(cache.Fork(leader, samples).ok());
    samples.push_back(leader);
    EXPECT_EQ(cache.num_blocks() - cache.num_free_blocks(), c.after_fork) << c.prompt;
    for (int32_t b : cache.block_table(leader)) EXPECT_EQ(cache.block_refs(b), 8);
    for (size_t i = 0; i < samples.size(); ++i) {
      Append(cache, samples[i], {1000.0f + static_cast<float>(i)});
    }
    EXPECT_EQ(cache.num_blocks() - cache.num_free_blocks(), c.after_first_token) << c.prompt;
    for (size_t i = 0; i < samples.size(); ++i) {
      std::vector<float> want = prompt;
      want.push_back(1000.0f + static_cast<float>(i));
      EXPECT_EQ(Read(cache, samples[i]), want) << c.prompt << " sample " << i;
    }
    ExpectConsistent(cache);
  }
}

TEST(KvCacheTest, TruncateAndForkReturnBlocks) {
  KvCache cache = Make(8, 4, 32, 2);
  const int64_t a = *cache.Acquire(), b = *cache.Acquire();
  Append(cache, a, {1, 2, 3, 4, 5, 6, 7, 8, 9});  // 3 blocks
  Append(cache, b, {1, 2});                       // 1 block
  EXPECT_EQ(cache.num_free_blocks(), 4);
  ASSERT_TRUE(cache.Truncate(a, 4).ok());
  EXPECT_EQ(cache.num_free_blocks(), 6);
  EXPECT_EQ(Read(cache, a), (std::vector<float>{1, 2, 3, 4}));
  ASSERT_TRUE(cache.Fork(a, {b}).ok());  // b's own block goes back
  EXPECT_EQ(cache.num_free_blocks(), 7);
  EXPECT_THAT(std::string(cache.Truncate(a, 9).message()), HasSubstr("outside [0, 4]"));
  EXPECT_THAT(std::string(cache.Fork(a, {a}).message()), HasSubstr("is the source"));
  ExpectConsistent(cache);
}

TEST(KvCacheTest, SlotsAreAcquiredLowestFirstAndReleased) {
  KvCache cache = Make(0, 16, 16, 3);
  EXPECT_EQ(cache.num_blocks(), 3);  // no budget: enough for every slot at max_seq_len
  EXPECT_EQ(*cache.Acquire(), 0);
  EXPECT_EQ(*cache.Acquire(), 1);
  EXPECT_EQ(*cache.Acquire(), 2);
  absl::StatusOr<int64_t> none = cache.Acquire();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("all 3 KV cache slots are in use"));
  ASSERT_TRUE(cache.Release(1).ok());
  ASSERT_TRUE(cache.Release(0).ok());
  EXPECT_EQ(cache.num_free(), 2);
  EXPECT_EQ(*cache.Acquire(), 0);
  absl::Status s = cache.Release(1);
  EXPECT_THAT(std::string(s.message()), HasSubstr("slot 1 is not acquired"));
  s = cache.Release(7);
  EXPECT_THAT(std::string(s.message()), HasSubstr("slot 7 is outside the cache's 3 slots"));
}

TEST(KvCacheTest, MemoryBudgetDecidesTheBlocks) {
  ModelConfig c;
  c.num_layers = 5;
  c.num_kv_heads = 4;
  c.head_dim = 8;
  // 5 layers x 2 x 4 kv heads x 8 dims x 4 bytes = 1280 bytes per token; 20480 per block.
  EXPECT_EQ(KvCache::BytesPerToken(c, at::kFloat), 1280);
  EXPECT_EQ(KvCache::BytesPerToken(c, at::kBFloat16), 640);
  KvCacheOptions options;
  options.max_seq_len = 100;
  options.memory_budget_bytes = 20480 * 9 + 20479;
  absl::StatusOr<KvCache> cache = KvCache::Create(c, options, at::kFloat, at::kCPU);
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_EQ(cache->num_blocks(), 9);
  EXPECT_EQ(cache->num_slots(), 9);
  EXPECT_EQ(cache->bytes_per_block(), 20480);
  options.memory_budget_bytes = 20480 * 6;  // 96 tokens: below one sequence of 100
  cache = KvCache::Create(c, options, at::kFloat, at::kCPU);
  EXPECT_THAT(std::string(cache.status().message()),
              HasSubstr("memory budget of 122880 bytes is below one sequence: 100 tokens need "
                        "143360 bytes"));
  options.max_seq_len = 0;
  cache = KvCache::Create(c, options, at::kFloat, at::kCPU);
  EXPECT_THAT(std::string(cache.status().message()), HasSubstr("max_seq_len must be > 0"));
  options.max_seq_len = 100;
  options.block_size = 0;
  cache = KvCache::Create(c, options, at::kFloat, at::kCPU);
  EXPECT_THAT(std::string(cache.status().message()), HasSubstr("block_size must be > 0"));
}

}  // namespace
}  // namespace ponder::model
