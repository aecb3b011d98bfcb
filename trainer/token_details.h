// Per-token detail of a step's samples (monitor.token_details): the learner's numbers for some
// rows of the training batch, joined with the token text and the rollout's log-probs into the
// lines of samples/step_<N>_tokens.jsonl (monitor/token_detail.h) that the dashboard's token
// view shows.
//
// The rows are the first ones of the batch among those written to samples/step_<N>.jsonl
// (monitor.max_samples_per_step), so every detail line belongs to a sample the page lists, and
// whole groups come before a part of one.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "monitor/metrics.h"
#include "monitor/monitor_options.h"
#include "monitor/token_detail.h"
#include "trainer/step_metrics.h"

namespace ponder::trainer {

// What the learner computed for one row of the batch, per response token.
struct RowTokenDetail {
  int64_t row = 0;  // index into the batch given to Learner::Step
  // pi_old: the trainer's log-probs the update's ratios start from (recomputed when
  // trainer.recompute_logprobs, else the rollout's).
  std::vector<float> logprobs;
  // The policy's entropy at each position, from the row's first policy-update forward pass
  // (epoch 1); empty when the update ran none for it (critic warm-up, a fully masked
  // mini-batch, a row computed by another trainer rank).
  std::vector<float> entropy;
  std::vector<float> advantages;
  std::vector<int> loss_mask;  // 1: the token entered the policy loss
};

// The batch rows that get detail: 0 .. TokenDetailCount(token_details, written) - 1, where
// `written` is the number of sample records of a batch of `batch_size`.
std::vector<int64_t> TokenDetailRows(const monitor::MonitorOptions& monitor, size_t batch_size);

// The lines of step `step` for `details`: row r is batch.trajectories[r] (token ids, the
// rollout's log-probs), from the group and sample batch.position[r] names (prompt_uid,
// sample_index). Token text comes from a streaming decode, so the texts of a response join to
// its decoded text with special tokens kept (shown by name; the samples' "response" leaves them
// out); a token that ends mid-character has "" and the next one the whole character.
// InvalidArgument when a row is not in the batch or its lengths disagree.
absl::StatusOr<std::vector<monitor::TokenDetailRecord>> TokenDetailRecords(
    int64_t step, const std::vector<Group>& groups, const TrainingBatch& batch,
    const std::vector<RowTokenDetail>& details, const model::Tokenizer& tokenizer);

// TokenDetailRecords, written to `sink`; nothing when `details` is empty.
absl::Status WriteTokenDetails(monitor::MetricsSink& sink, int64_t step,
                               const std::vector<Group>& groups, const TrainingBatch& batch,
                               const std::vector<RowTokenDetail>& details,
                               const model::Tokenizer& tokenizer);

}  // namespace ponder::trainer
