// Keys and values of running sequences, in fixed-size blocks from one preallocated pool (paged
// attention, as vLLM keeps them).
//
// A sequence lives in a slot: the slot's block table lists the pool blocks that hold its
// tokens, in order, and its length says how many tokens it holds. A scheduler acquires a slot
// for a new sequence, lets DecoderImpl::Step append tokens to it (a prompt, then one token per
// step; blocks are taken from the pool as the sequence grows), may fork it into other slots,
// and releases it when the sequence ends, which returns its blocks to the pool.
//
// Forked slots (the n samples of one prompt) share their source's blocks, reference-counted,
// so a prompt's keys and values are stored once however many samples continue it. A shared
// block that is only partly filled is copied when a sharer appends to it (copy on write);
// full blocks are never written again.
//
// Memory is fixed at creation: a number of blocks, or a byte budget that decides it. Appending
// never half-succeeds: PrepareAppend either gives every new position a block or changes nothing
// (ResourceExhausted), and BlocksToAppend says beforehand what it would take, so a scheduler
// can decide whom to preempt.
//
// Storage is one tensor [layers, 2 (key, value), num_blocks * block_size, kv_heads, head_dim]
// in the model's dtype on its device; position t of a slot is row
// Row(slot, t) = block_table[t / block_size] * block_size + t % block_size.
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
  int64_t max_seq_len = 0;  // tokens per sequence at most (prompt + response), > 0
  int64_t num_slots = 0;    // sequences at once; 0: as many as there are blocks
  int64_t block_size = 16;  // tokens per block, > 0
  // Blocks in the pool: num_blocks when > 0, else as many as memory_budget_bytes holds, else
  // (both 0) enough for num_slots sequences of max_seq_len tokens.
  int64_t num_blocks = 0;
  int64_t memory_budget_bytes = 0;
};

class KvCache {
 public:
  // InvalidArgument for non-positive sizes or a pool that cannot hold one sequence of
  // max_seq_len tokens (the message gives the bytes it needs); ResourceExhausted when the
  // allocation fails.
  static absl::StatusOr<KvCache> Create(const ModelConfig& config, const KvCacheOptions& options,
                                        c10::ScalarType dtype, c10::Device device);
  // Bytes one token's keys and values take (all layers).
  static int64_t BytesPerToken(const ModelConfig& config, c10::ScalarType dtype);

  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t num_slots() const { return static_cast<int64_t>(slots_.size()); }
  int64_t num_free() const { return static_cast<int64_t>(free_slots_.size()); }
  int64_t max_seq_len() const { return max_seq_len_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(refs_.size()); }
  int64_t num_free_blocks() const { return static_cast<int64_t>(free_blocks_.size()); }
  int64_t bytes_per_block() const { return bytes_per_block_; }
  c10::ScalarType dtype() const;
  c10::Device device() const;

  // Takes the lowest free slot (length 0, no blocks). ResourceExhausted when all are in use.
  absl::StatusOr<int64_t> Acquire();
  // Returns a slot and its blocks. InvalidArgument for a slot that is not in use.
  absl::Status Release(int64_t slot);
  bool in_use(int64_t slot) const;
  // Tokens held by `slot` (its next token goes to position length(slot)).
  int64_t length(int64_t slot) const { return slots_[static_cast<size_t>(slot)].length; }
  // The pool blocks holding `slot`'s tokens, in order.
  const std::vector<int32_t>& block_table(int64_t slot) const {
    return slots_[static_cast<size_t>(slot)].blocks;
  }
  // Slots whose tables list `block` (1 when not shared, 0 when free).
  int64_t block_refs(int32_t block) const { return refs_[static_cast<size_t>(block)]; }

  // Makes each slot of `targets` (all in use, none equal to `source`) hold what `source`
  // holds by sharing its blocks: no keys or values are copied. Targets' own blocks are
  // released first.
  absl::Status Fork(int64_t source, const std::vector<int64_t>& targets);
  // Drops the tokens of `slot` from position `length` on (length <= current length); blocks
  // left empty go back to the pool.
  absl::Status Truncate(int64_t slot, int64_t length);

  // New blocks that appending `n` tokens to `slot` takes (a shared, partly filled last block
  // counts once more: its copy).
  int64_t BlocksToAppend(int64_t slot, int64_t n) const;
  // Gives positions [length, length + n) of `slot` blocks of their own (copying a shared,
  // partly filled last block first); the length is unchanged until SetLength.
  // ResourceExhausted, with nothing changed, when the pool has too few free blocks.
  absl::Status PrepareAppend(int64_t slot, int64_t n);

  // Storage row of position `pos` of `slot` (a position PrepareAppend or earlier appends gave
  // a block).
  int64_t Row(int64_t slot, int64_t pos) const {
    const std::vector<int32_t>& t = slots_[static_cast<size_t>(slot)].blocks;
    return static_cast<int64_t>(t[static_cast<size_t>(pos / block_size_)]) * block_size_ +
           pos % block_size_;
  }

  // For the decoder: [num_blocks * block_size, kv_heads, head_dim] views of one layer.
  at::Tensor keys(int64_t layer) const;
  at::Tensor values(int64_t layer) const;
  // For the decoder, after writing: sets the length of a slot in use.
  void SetLength(int64_t slot, int64_t length) {
    slots_[static_cast<size_t>(slot)].length = length;
  }

  // InvalidArgument unless `slot` is a valid slot in use; `what` names the caller.
  absl::Status CheckSlot(int64_t slot, const char* what) const;

 private:
  struct Slot {
    bool used = false;
    int64_t length = 0;
    std::vector<int32_t> blocks;
  };
  KvCache() = default;
  void Unref(int32_t block);

  at::Tensor storage_;
  int64_t max_seq_len_ = 0;
  int64_t block_size_ = 0;
  int64_t bytes_per_block_ = 0;
  std::vector<Slot> slots_;
  std::vector<int64_t> free_slots_;  // kept sorted descending; Acquire pops the lowest
  std::vector<int32_t> refs_;        // per block
  std::vector<int32_t> free_blocks_;
};

}  // namespace ponder::model
