#include "model/kv_cache.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ponder::model {

int64_t KvCache::BytesPerSlot(const ModelConfig& config, int64_t max_seq_len,
                              c10::ScalarType dtype) {
  return 2 * config.num_layers * max_seq_len * config.num_kv_heads * config.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

absl::StatusOr<KvCache> KvCache::Create(const ModelConfig& config, const KvCacheOptions& options,
                                        c10::ScalarType dtype, c10::Device device) {
  if (options.max_seq_len <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache max_seq_len must be > 0 (got ", options.max_seq_len, ")"));
  }
  const int64_t per_slot = BytesPerSlot(config, options.max_seq_len, dtype);
  int64_t slots = options.num_slots;
  if (slots < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache num_slots must be >= 0 (got ", slots, ")"));
  }
  if (slots == 0) {
    slots = options.memory_budget_bytes / per_slot;
    if (slots <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "KV cache memory budget of ", options.memory_budget_bytes,
          " bytes is below one slot: a slot of ", options.max_seq_len, " tokens needs ", per_slot,
          " bytes (", config.num_layers, " layers x 2 x ", config.num_kv_heads, " kv heads x ",
          config.head_dim, " x ", c10::elementSize(dtype), " bytes per token)"));
    }
  }
  KvCache cache;
  try {
    cache.storage_ = at::zeros(
        {config.num_layers, 2, slots, options.max_seq_len, config.num_kv_heads, config.head_dim},
        at::TensorOptions().dtype(dtype).device(device));
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate a KV cache of ", slots,
                                                     " slots (", slots * per_slot,
                                                     " bytes): ", e.what_without_backtrace()));
  }
  cache.max_seq_len_ = options.max_seq_len;
  cache.lengths_.assign(static_cast<size_t>(slots), 0);
  cache.used_.assign(static_cast<size_t>(slots), false);
  for (int64_t s = slots - 1; s >= 0; --s) cache.free_.push_back(s);
  return cache;
}

c10::ScalarType KvCache::dtype() const { return storage_.scalar_type(); }
c10::Device KvCache::device() const { return storage_.device(); }

absl::StatusOr<int64_t> KvCache::Acquire() {
  if (free_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", num_slots(), " KV cache slots are in use"));
  }
  int64_t slot = free_.back();
  free_.pop_back();
  used_[static_cast<size_t>(slot)] = true;
  lengths_[static_cast<size_t>(slot)] = 0;
  return slot;
}

bool KvCache::in_use(int64_t slot) const {
  return slot >= 0 && slot < num_slots() && used_[static_cast<size_t>(slot)];
}

absl::Status KvCache::CheckSlot(int64_t slot, const char* what) const {
  if (slot < 0 || slot >= num_slots()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": slot ", slot, " is outside the cache's ", num_slots(), " slots"));
  }
  if (!used_[static_cast<size_t>(slot)]) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": slot ", slot, " is not acquired"));
  }
  return absl::OkStatus();
}

absl::Status KvCache::Release(int64_t slot) {
  if (absl::Status s = CheckSlot(slot, "KvCache::Release"); !s.ok()) return s;
  used_[static_cast<size_t>(slot)] = false;
  lengths_[static_cast<size_t>(slot)] = 0;
  free_.insert(std::upper_bound(free_.begin(), free_.end(), slot, std::greater<int64_t>()), slot);
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
  const int64_t len = length(source);
  if (len > 0) {
    at::Tensor from = storage_.select(2, source).narrow(2, 0, len);
    for (int64_t t : targets) storage_.select(2, t).narrow(2, 0, len).copy_(from);
  }
  for (int64_t t : targets) lengths_[static_cast<size_t>(t)] = len;
  return absl::OkStatus();
}

absl::Status KvCache::Truncate(int64_t slot, int64_t length) {
  if (absl::Status s = CheckSlot(slot, "KvCache::Truncate"); !s.ok()) return s;
  if (length < 0 || length > lengths_[static_cast<size_t>(slot)]) {
    return absl::InvalidArgumentError(absl::StrCat("KvCache::Truncate: length ", length,
                                                   " is outside [0, ", this->length(slot),
                                                   "] for slot ", slot));
  }
  lengths_[static_cast<size_t>(slot)] = length;
  return absl::OkStatus();
}

at::Tensor KvCache::keys(int64_t layer) const { return storage_[layer][0]; }
at::Tensor KvCache::values(int64_t layer) const { return storage_[layer][1]; }

}  // namespace ponder::model
