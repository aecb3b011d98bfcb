// Splitting a training batch: mini-batches (one optimizer step each) made of whole prompt
// groups, and micro-batches (one forward/backward each) packed under a token budget.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace ponder::trainer {

// Splits samples into mini-batches of `groups_per_mini_batch` whole groups (a group is all
// samples with the same id in `group_ids`). Groups keep the order of their first sample,
// shuffled first when `rng` is given; samples keep their order inside a group. 0 or a value
// >= the number of groups: one mini-batch. Returns sample indices.
std::vector<std::vector<int64_t>> SplitMiniBatches(const std::vector<int64_t>& group_ids,
                                                   int64_t groups_per_mini_batch,
                                                   std::mt19937_64* rng);

// Packs the samples `indices` (with `lengths`, indexed by sample) into micro-batches whose
// padded size (count x longest length) stays within `max_tokens`. Longest first, each
// micro-batch filled greedily with the next longest, so lengths in one micro-batch are close
// and padding is small. A sample longer than the budget gets a micro-batch of its own.
// Deterministic: ties keep the order of `indices`.
std::vector<std::vector<int64_t>> PackMicroBatches(const std::vector<int64_t>& indices,
                                                   const std::vector<int64_t>& lengths,
                                                   int64_t max_tokens);

}  // namespace ponder::trainer
