// An endless stream over n items: every item once per epoch, in an order reshuffled for each
// epoch from (seed, epoch), so the state is just (epoch, position) and resuming is exact.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "trainer/internal/random.h"

namespace ponder::trainer::internal {

class EpochOrder {
 public:
  EpochOrder() = default;
  EpochOrder(int64_t n, uint64_t seed, bool shuffle) : n_(n), seed_(seed), shuffle_(shuffle) {
    Reorder();
  }

  int64_t Next() {
    if (position_ >= n_) {
      ++epoch_;
      position_ = 0;
      Reorder();
    }
    return order_[position_++];
  }

  int64_t epoch() const { return epoch_; }
  int64_t position() const { return position_; }
  int64_t size() const { return n_; }
  void Seek(int64_t epoch, int64_t position) {
    epoch_ = epoch;
    position_ = position;
    Reorder();
  }

 private:
  void Reorder() {
    order_.resize(n_);
    for (int64_t i = 0; i < n_; ++i) order_[i] = i;
    if (!shuffle_) return;
    // SplitMix64-style mix of (seed, epoch) so that neighbouring epochs are unrelated.
    uint64_t z = seed_ + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(epoch_ + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    std::mt19937_64 rng(z);
    Shuffle(order_, rng);
  }

  int64_t n_ = 0;
  uint64_t seed_ = 0;
  bool shuffle_ = true;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace ponder::trainer::internal
