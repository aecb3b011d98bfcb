// The learner's batch laid out for the model, and the no-grad and grad forward passes over
// rows of it: log-probs (and entropy) of the response tokens under a policy, values under a
// critic. LibTorch errors become Status here.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/policy.h"
#include "trainer/trajectory.h"

namespace ponder::trainer {

// Rows = prompt + response, right-padded.
struct PackedBatch {
  int64_t size = 0;
  at::Tensor tokens;                      // [B, L] int64
  at::Tensor attention_mask;              // [B, L] int64
  at::Tensor targets;                     // [B, L] int64, -1 outside the responses
  at::Tensor positions;                   // [B, T] int64: where each response token's log-prob sits
  at::Tensor mask;                        // [B, T] dtype: response tokens
  std::vector<int64_t> lengths;           // prompt + response
  std::vector<int64_t> response_lengths;  // response
  at::ScalarType dtype = at::kFloat;
  c10::Device device = c10::kCPU;
};

PackedBatch Pack(const std::vector<Trajectory>& batch, at::ScalarType dtype, c10::Device device);

// `rows` as an index tensor on `device`.
at::Tensor RowIndex(const std::vector<int64_t>& rows, c10::Device device);
// Rows `rows` of a [B, X] tensor, cut to the first `width` columns.
at::Tensor Rows(const at::Tensor& x, const at::Tensor& rows, int64_t width);
// The longest response among `rows`.
int64_t ResponseWidth(const PackedBatch& b, const std::vector<int64_t>& rows);

struct RowScores {
  at::Tensor log_probs;  // [n, T_rows]
  at::Tensor entropy;    // [n, T_rows] when asked for
};
// Log-probs (and entropy) of the response tokens of `rows` under `model`.
absl::StatusOr<RowScores> ScoreRows(TrainablePolicy& model, const PackedBatch& b,
                                    const std::vector<int64_t>& rows, bool entropy);
// Critic values at the response tokens of `rows`: [n, T_rows].
absl::StatusOr<at::Tensor> ValueRows(ValueModel& critic, const PackedBatch& b,
                                     const std::vector<int64_t>& rows);

// A no-grad pass over the whole batch in micro-batches of at most `max_tokens` padded tokens,
// filling [B, T] (zero outside the responses) from what `fn` returns for each one.
using RowsFn = std::function<absl::StatusOr<at::Tensor>(const std::vector<int64_t>&)>;
absl::StatusOr<at::Tensor> FillAll(const PackedBatch& b, int64_t max_tokens, const RowsFn& fn);
// The same over `rows` only (zero in the other rows): one trainer rank's share.
absl::StatusOr<at::Tensor> FillRows(const PackedBatch& b, const std::vector<int64_t>& rows,
                                    int64_t max_tokens, const RowsFn& fn);

}  // namespace ponder::trainer
