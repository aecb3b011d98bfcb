// Keys and values of running sequences, preallocated once and addressed by sequence slot.
//
// A slot holds one sequence of up to max_seq_len tokens. A scheduler acquires a slot for a new
// sequence, lets DecoderImpl::Step append tokens to it (prompt, then one token per step), may
// fork it into other slots (n samples of one prompt share the prompt's keys and values; only
// the copy of the prompt is paid, not its prefill), and releases it when the sequence ends.
// Memory is fixed at creation: either a number of slots or a byte budget that decides it.
//
// Storage is one tensor [layers, 2 (key, value), slots, max_seq_len, kv_heads, head_dim] in
// the model's dtype on its device; Step writes new entries in place.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace ponder::model {

struct KvCacheOptions {
  int64_t max_seq_len = 0;          // tokens per slot (prompt + response), > 0
  int64_t num_slots = 0;            // > 0, or 0 to take as many as memory_budget_bytes allows
  int64_t memory_budget_bytes = 0;  // used when num_slots is 0
};

class KvCache {
 public:
  // InvalidArgument for non-positive sizes or a budget below one slot (the message gives the
  // bytes one slot needs); ResourceExhausted when the allocation fails.
  static absl::StatusOr<KvCache> Create(const ModelConfig& config, const KvCacheOptions& options,
                                        c10::ScalarType dtype, c10::Device device);
  // Bytes one slot of `max_seq_len` tokens takes.
  static int64_t BytesPerSlot(const ModelConfig& config, int64_t max_seq_len,
                              c10::ScalarType dtype);

  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t num_slots() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t max_seq_len() const { return max_seq_len_; }
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  c10::ScalarType dtype() const;
  c10::Device device() const;

  // Takes the lowest free slot (length 0). ResourceExhausted when all are in use.
  absl::StatusOr<int64_t> Acquire();
  // Returns a slot to the free pool. InvalidArgument for a slot that is not in use.
  absl::Status Release(int64_t slot);
  bool in_use(int64_t slot) const;
  // Tokens held by `slot` (its next token goes to position length(slot)).
  int64_t length(int64_t slot) const { return lengths_[static_cast<size_t>(slot)]; }

  // Copies the keys, values and length of `source` into each slot of `targets` (all in use,
  // none equal to `source`): one copy per target of only the filled positions.
  absl::Status Fork(int64_t source, const std::vector<int64_t>& targets);
  // Drops the tokens of `slot` from position `length` on (length <= current length).
  absl::Status Truncate(int64_t slot, int64_t length);

  // For the decoder: [slots, max_seq_len, kv_heads, head_dim] views of one layer.
  at::Tensor keys(int64_t layer) const;
  at::Tensor values(int64_t layer) const;
  // For the decoder, after writing: sets the length of a slot in use.
  void SetLength(int64_t slot, int64_t length) { lengths_[static_cast<size_t>(slot)] = length; }

  // InvalidArgument unless `slot` is a valid slot in use; `what` names the caller.
  absl::Status CheckSlot(int64_t slot, const char* what) const;

 private:
  KvCache() = default;
  at::Tensor storage_;
  int64_t max_seq_len_ = 0;
  std::vector<int64_t> lengths_;
  std::vector<bool> used_;
  std::vector<int64_t> free_;  // kept sorted descending; Acquire pops the lowest from the back
};

}  // namespace ponder::model
