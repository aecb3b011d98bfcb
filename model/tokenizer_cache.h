// A bounded, thread-safe memo of "pre-token text -> token ids" for the BPE tokenizers: natural
// text repeats its words, and a cached word costs a hash lookup instead of a merge loop.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/types/span.h"
#include "model/tokenizer_string_map.h"

namespace ponder::model {

class TokenCache {
 public:
  // Words longer than this are not cached (they are rare and would crowd the table).
  static constexpr size_t kMaxKeyBytes = 48;

  explicit TokenCache(size_t max_entries = 1 << 18) : max_per_shard_(max_entries / kShards) {}

  // Appends the cached ids of `key` to `*ids` and returns true when present.
  bool Lookup(std::string_view key, std::vector<int32_t>* ids) const {
    if (key.size() > kMaxKeyBytes) return false;
    const Shard& shard = shards_[ShardOf(key)];
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.map.find(key);
    if (it == shard.map.end()) return false;
    ids->insert(ids->end(), it->second.begin(), it->second.end());
    return true;
  }

  void Insert(std::string_view key, absl::Span<const int32_t> value) const {
    if (key.size() > kMaxKeyBytes) return;
    Shard& shard = shards_[ShardOf(key)];
    std::lock_guard<std::mutex> lock(shard.mu);
    if (shard.map.size() >= max_per_shard_) shard.map.clear();  // crude but bounded
    shard.map.try_emplace(key, value.begin(), value.end());
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    StringMap<absl::InlinedVector<int32_t, 4>> map;
  };
  static size_t ShardOf(std::string_view key) {
    return std::hash<std::string_view>{}(key) % kShards;
  }

  size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace ponder::model
