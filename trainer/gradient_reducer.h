// Sums the gradients of one model over the trainer ranks, in buckets that start while backward
// is still running (as PyTorch's DistributedDataParallel does).
//
//   GradientReducer reducer(group, policy_parameters, /*bucket_bytes=*/25 << 20, "policy");
//   for (each micro-batch of this rank) {
//     if (last) reducer.Arm();   // the next backward's gradients are final
//     loss.backward();           // a bucket's sum starts as soon as all its gradients exist
//   }
//   PONDER_RETURN_IF_ERROR(reducer.Finish());  // .grad now holds the sum over ranks
//
// The buckets hold the parameters in reverse order (backward produces the last layers' first)
// and are always started in the same order on every rank, whatever order the gradients come
// in. A rank with nothing to backpropagate calls Finish alone and contributes zeros. Each
// bucket also carries a 0/1 flag per parameter, so that a parameter no rank produced a
// gradient for keeps none (and AdamW skips it, as it would with one rank).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace at {
class Tensor;
}

namespace ponder::trainer {

class RankGroup;

class GradientReducer {
 public:
  // `parameters`: the same list, in the same order, on every rank. `name` is for messages.
  GradientReducer(RankGroup* group, const std::vector<at::Tensor>& parameters, int64_t bucket_bytes,
                  std::string name);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The gradients that the next backward accumulates are this step's last: sum them as they
  // become ready.
  void Arm();
  // Starts every bucket not yet started, waits for all of them and writes the sums into the
  // parameters' gradients. Disarms.
  absl::Status Finish();

  int64_t num_buckets() const;
  // Buckets whose sum started during backward in the last Finish (for tests and metrics).
  int64_t started_during_backward() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ponder::trainer
