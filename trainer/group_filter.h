// DAPO dynamic sampling (verl: `algorithm.filter_groups`): groups whose rewards are all equal
// carry no learning signal under group baselines, so they are dropped, and generation goes on
// until the training batch holds enough groups, up to a cap on generation rounds.
//
// The controller drives it:
//   filter.BeginBatch(train_batch_size);
//   while (filter.NeedsGeneration()) {
//     filter.CountGeneration();
//     ... sample prompts, generate n responses each, score them ...
//     for (each group) if (filter.Offer(rewards) == GroupVerdict::kKeep) keep it;
//   }
//   PONDER_RETURN_IF_ERROR(filter.FinishBatch());   // error if short (unless allowed)
//   metrics.merge(filter.Metrics());
// With `enable: false` every group is kept, and one generation round fills the batch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/config.h"

namespace ponder::trainer {

// `algorithm.filter_groups:`
struct FilterGroupsOptions {
  bool enable = false;
  int64_t max_num_gen_batches = 10;  // generation rounds per training batch; 0: no cap
  bool allow_partial_batch = false;  // at the cap, train on the groups kept so far

  void Bind(config::Binder& b);
};

enum class GroupVerdict {
  kKeep,
  kDropEqual,  // all rewards equal: no signal
  kSurplus,    // the batch is already full
};

class GroupFilter {
 public:
  explicit GroupFilter(const FilterGroupsOptions& options) : options_(options) {}

  void BeginBatch(int64_t target_groups);
  // Whether another generation round is wanted: the batch is not full and the cap allows it.
  bool NeedsGeneration() const;
  void CountGeneration() { ++gen_batches_; }
  // Decides about one scored group (its rewards, or whatever values decide "all equal").
  GroupVerdict Offer(const std::vector<double>& rewards);
  // OK when the batch is full, filtering is off (the batch is then short only by prompts
  // skipped as bad), or partial batches are allowed; otherwise ResourceExhausted
  // saying how many groups were kept after how many rounds and which options to change.
  absl::Status FinishBatch() const;

  bool full() const { return kept_ >= target_; }
  int64_t kept() const { return kept_; }

  // `dynamic_sampling/*` metrics of the current batch (drop_rate = dropped / offered, with
  // surplus groups not counted as offered) and running totals.
  std::map<std::string, double> Metrics() const;

  // Running totals, for checkpoints (JSON text).
  std::string SaveState() const;
  absl::Status LoadState(const std::string& state);

 private:
  FilterGroupsOptions options_;
  int64_t target_ = 0;
  int64_t kept_ = 0;
  int64_t dropped_ = 0;
  int64_t surplus_ = 0;
  int64_t gen_batches_ = 0;
  int64_t total_offered_ = 0;
  int64_t total_dropped_ = 0;
};

}  // namespace ponder::trainer
