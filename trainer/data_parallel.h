// The learner's part of a data-parallel step (trainer ranks, trainer/distributed.h). Every
// rank holds the whole scored batch (rank 0 sends it: trainer/step_message.h) and draws the
// same mini-batches; each computes log-probs, values and gradients for its share of the rows
// only, and sums bring the results to every rank:
//   - no-grad passes (old, reference log-probs, values): each row is filled by one rank, and
//     the [B, T] tensors are summed;
//   - gradients: a GradientReducer per model, its buckets started during the last backward;
//   - each update's metric sums and finite-loss flags, so that every rank takes (or skips)
//     the same optimizer step.
// The losses are scaled by the whole mini-batch's token and sequence counts, so the sum of
// the ranks' gradients is the gradient one rank would compute for the whole mini-batch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "trainer/gradient_reducer.h"
#include "trainer/packed_batch.h"

namespace ponder::trainer {

class RankGroup;

class DataParallel {
 public:
  DataParallel(RankGroup* group, double bucket_mb);

  int64_t rank() const;
  int64_t size() const;

  // This rank's rows of `rows` (in order): a contiguous piece; the pieces hold about the same
  // number of tokens (`lengths[row]`). Some ranks get none when rows are few.
  std::vector<int64_t> Share(const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& lengths) const;

  // FillRows (packed_batch.h) over this rank's share of the batch's rows, summed over ranks:
  // every rank gets the whole [B, T] result.
  absl::StatusOr<at::Tensor> Fill(const PackedBatch& b, int64_t max_tokens, const RowsFn& fn,
                                  const std::string& what);

  // Sums over ranks in place.
  absl::Status Sum(at::Tensor& tensor, const std::string& what);
  absl::Status Sum(std::vector<double>& values, const std::string& what);
  // An update's metric sums (actor/pg_loss ... critic/vf_clipfrac, summed over micro-batches)
  // and its finite-loss flag, summed over ranks: `finite` becomes false on every rank when the
  // loss of any rank was not finite, so every rank takes or skips the same optimizer step.
  absl::Status SumUpdate(std::map<std::string, double>& sums, bool& finite,
                         const std::string& what);
  // Rank 0's tensors replace every rank's.
  absl::Status FromRankZero(std::vector<at::Tensor>& tensors, const std::string& what);

  std::unique_ptr<GradientReducer> MakeReducer(const std::vector<at::Tensor>& parameters,
                                               const std::string& name) const;

 private:
  RankGroup* group_;
  int64_t bucket_bytes_;
};

}  // namespace ponder::trainer
