#include "model/kv_cache.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace ponder::model {

int64_t KvCache::BytesPerToken(const ModelConfig& config, c10::ScalarType dtype) {
  return 2 * config.num_layers * config.num_kv_heads * config.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

absl::StatusOr<KvCache> KvCache::Create(const ModelConfig& config, const KvCacheOptions& options,
                                        c10::ScalarType dtype, c10::Device device) {
  if (options.max_seq_len <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache max_seq_len must be > 0 (got ", options.max_seq_len, ")"));
  }
  if (options.block_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache block_size must be > 0 (got ", options.block_size, ")"));
  }
  if (options.num_slots < 0 || options.num_blocks < 0 || options.memory_budget_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache num_slots, num_blocks and memory_budget_bytes must be >= 0 (got ",
        options.num_slots, ", ", options.num_blocks, ", ", options.memory_budget_bytes, ")"));
  }
  const int64_t bs = options.block_size;
  const int64_t per_token = BytesPerToken(config, dtype);
  const int64_t per_block = per_token * bs;
  const int64_t blocks_per_seq = (options.max_seq_len + bs - 1) / bs;
  int64_t blocks = options.num_blocks;
  if (blocks == 0) {
    blocks = options.memory_budget_bytes > 0
                 ? options.memory_budget_bytes / per_block
                 : std::max<int64_t>(1, options.num_slots) * blocks_per_seq;
  }
  if (blocks < blocks_per_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache memory budget of ",
                     options.num_blocks > 0 ? blocks * per_block : options.memory_budget_bytes,
                     " bytes is below one sequence: ", options.max_seq_len, " tokens need ",
                     blocks_per_seq * per_block, " bytes (", config.num_layers, " layers x 2 x ",
                     config.num_kv_heads, " kv heads x ", config.head_dim, " x ",
                     c10::elementSize(dtype), " bytes per token, in blocks of ", bs, " tokens)"));
  }
  if (blocks > std::numeric_limits<int32_t>::max() / bs) {
    return absl::InvalidArgumentError(absl::StrCat("KV cache of ", blocks, " blocks is too large"));
  }
  const int64_t slots = options.num_slots > 0 ? options.num_slots : blocks;
  KvCache cache;
  try {
    cache.storage_ =
        at::zeros({config.num_layers, 2, blocks * bs, config.num_kv_heads, config.head_dim},
                  at::TensorOptions().dtype(dtype).device(device));
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate a KV cache of ", blocks,
                                                     " blocks (", blocks * per_block,
                                                     " bytes): ", e.what_without_backtrace()));
  }
  cache.max_seq_len_ = options.max_seq_len;
  cache.block_size_ = bs;
  cache.bytes_per_block_ = per_block;
  cache.slots_.resize(static_cast<size_t>(slots));
  for (int64_t s = slots - 1; s >= 0; --s) cache.free_slots_.push_back(s);
  cache.refs_.assign(static_cast<size_t>(blocks), 0);
  for (int64_t b = blocks - 1; b >= 0; --b) cache.free_blocks_.push_back(static_cast<int32_t>(b));
  return cache;
}

c10::ScalarType KvCache::dtype() const { return storage_.scalar_type(); }
c10::Device KvCache::device() const { return storage_.device(); }

absl::StatusOr<int64_t> KvCache::Acquire() {
  if (free_slots_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", num_slots(), " KV cache slots are in use"));
  }
  const int64_t slot = free_slots_.back();
  free_slots_.pop_back();
  Slot& s = slots_[static_cast<size_t>(slot)];
  s.used = true;
  s.length = 0;
  return slot;
}

bool KvCache::in_use(int64_t slot) const {
  return slot >= 0 && slot < num_slots() && slots_[static_cast<size_t>(slot)].used;
}

absl::Status KvCache::CheckSlot(int64_t slot, const char* what) const {
  if (slot < 0 || slot >= num_slots()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": slot ", slot, " is outside the cache's ", num_slots(), " slots"));
  }
  if (!slots_[static_cast<size_t>(slot)].used) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": slot ", slot, " is not acquired"));
  }
  return absl::OkStatus();
}

void KvCache::Unref(int32_t block) {
  if (--refs_[static_cast<size_t>(block)] == 0) free_blocks_.push_back(block);
}

absl::Status KvCache::Release(int64_t slot) {
  if (absl::Status s = CheckSlot(slot, "KvCache::Release"); !s.ok()) return s;
  Slot& s = slots_[static_cast<size_t>(slot)];
  for (int32_t b : s.blocks) Unref(b);
  s.blocks.clear();
  s.used = false;
  s.length = 0;
  free_slots_.insert(
      std::upper_bound(free_slots_.begin(), free_slots_.end(), slot, std::greater<int64_t>()),
      slot);
  return absl::OkStatus();
}

absl::Status KvCache::Fork(int64_t source, const std::vector<int64_t>& targets) {
  if (absl::Status s = CheckSlot(source, "KvCache::Fork source"); !s.ok()) return s;
  for (int64_t t : targets) {
    if (absl::Status s = CheckSlot(t, "KvCache::Fork target"); !s.ok()) return s;
    if (t == source) {
      return absl::InvalidArgumentError(
          absl::StrCat("KvCache::Fork: target slot ", t, " is the source"));
    }
  }
  const Slot& from = slots_[static_cast<size_t>(source)];
  for (int64_t t : targets) {
    Slot& to = slots_[static_cast<size_t>(t)];
    for (int32_t b : to.blocks) Unref(b);
    to.blocks = from.blocks;
    for (int32_t b : to.blocks) ++refs_[static_cast<size_t>(b)];
    to.length = from.length;
  }
  return absl::OkStatus();
}

absl::Status KvCache::Truncate(int64_t slot, int64_t length) {
  if (absl::Status s = CheckSlot(slot, "KvCache::Truncate"); !s.ok()) return s;
  Slot& s = slots_[static_cast<size_t>(slot)];
  if (length < 0 || length > s.length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KvCache::Truncate: length ", length, " is outside [0, ", s.length, "] for slot ", slot));
  }
  const size_t keep = static_cast<size_t>((length + block_size_ - 1) / block_size_);
  for (size_t i = keep; i < s.blocks.size(); ++i) Unref(s.blocks[i]);
  s.blocks.resize(keep);
  s.length = length;
  return absl::OkStatus();
}

int64_t KvCache::BlocksToAppend(int64_t slot, int64_t n) const {
  const Slot& s = slots_[static_cast<size_t>(slot)];
  const int64_t held = static_cast<int64_t>(s.blocks.size());
  const int64_t needed = (s.length + n + block_size_ - 1) / block_size_;
  const bool copy = n > 0 && s.length % block_size_ != 0 && refs_[s.blocks.back()] > 1;
  return std::max<int64_t>(0, needed - held) + (copy ? 1 : 0);
}

absl::Status KvCache::PrepareAppend(int64_t slot, int64_t n) {
  if (absl::Status s = CheckSlot(slot, "KvCache::PrepareAppend"); !s.ok()) return s;
  const int64_t want = BlocksToAppend(slot, n);
  if (want > num_free_blocks()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the KV cache has ", num_free_blocks(), " free blocks of ", num_blocks(),
                     "; appending ", n, " tokens to slot ", slot, " needs ", want));
  }
  Slot& s = slots_[static_cast<size_t>(slot)];
  const int64_t filled = s.length % block_size_;
  if (n > 0 && filled != 0 && refs_[s.blocks.back()] > 1) {
    // Copy on write: this slot's tokens of the shared last block go to a block of its own.
    const int32_t shared = s.blocks.back();
    const int32_t own = free_blocks_.back();
    free_blocks_.pop_back();
    refs_[own] = 1;
    storage_.narrow(2, own * block_size_, filled)
        .copy_(storage_.narrow(2, shared * block_size_, filled));
    Unref(shared);
    s.blocks.back() = own;
  }
  const int64_t needed = (s.length + n + block_size_ - 1) / block_size_;
  while (static_cast<int64_t>(s.blocks.size()) < needed) {
    const int32_t b = free_blocks_.back();
    free_blocks_.pop_back();
    refs_[b] = 1;
    s.blocks.push_back(b);
  }
  return absl::OkStatus();
}

at::Tensor KvCache::keys(int64_t layer) const { return storage_[layer][0]; }
at::Tensor KvCache::values(int64_t layer) const { return storage_[layer][1]; }

}  // namespace ponder::model
