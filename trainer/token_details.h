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
#include "monitor/sample_record.h"
#include "monitor/token_detail.h"
#include "trainer/trajectory.h"

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

// The batch rows that get detail: 0 .. TokenDetailCount(share, written) - 1, where `written`
// is the number of sample records of a batch of `batch_size` (at most `max_samples` when >= 0).
std::vector<int64_t> TokenDetailRows(double share, int64_t batch_size, int64_t max_samples);

// The lines for `details`: `samples[row]` names the sample (prompt_uid, sample_index, step),
// `batch[row]` gives the response's token ids and behaviour log-probs; token text comes from
// a streaming decode, so the texts of a response join to its decoded text (a token that ends
// mid-character has "" and the next one the whole character). InvalidArgument when a row has
// no sample or its lengths disagree.
absl::StatusOr<std::vector<monitor::TokenDetailRecord>> TokenDetailRecords(
    const std::vector<monitor::SampleRecord>& samples, const std::vector<Trajectory>& batch,
    const std::vector<RowTokenDetail>& details, const model::Tokenizer& tokenizer);

}  // namespace ponder::trainer
