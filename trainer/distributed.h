// The trainer ranks of a data-parallel job: a c10d process group (Gloo on CPU, NCCL when built
// against a CUDA LibTorch) over a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT, plus a
// watchdog so that no rank waits forever for another.
//
//   PONDER_ASSIGN_OR_RETURN(RankEnv env, RankEnvFromEnvironment());
//   PONDER_ASSIGN_OR_RETURN(std::unique_ptr<RankGroup> group,
//                           RankGroup::Create({.env = env, .options = job.distributed}));
//   PONDER_RETURN_IF_ERROR(group->BroadcastBytes(batch_bytes, "batch of step 3"));
//   PONDER_RETURN_IF_ERROR(group->AllReduceSum(tensors, "metrics"));
//   PONDER_RETURN_IF_ERROR(group->Finish());
//
// Failure: every rank publishes a heartbeat (a counter and the collective it is in) to the
// store every `heartbeat_s`. Rank 0 watches everyone's, the others watch rank 0's (and an
// "abort" key rank 0 sets when it gives up). A rank silent for `timeout_s` -- dead, stopped, or
// cut off -- is lost: the watchdog names it ("rank 1 (host node7, pid 4242) ...") and the job
// ends; a collective that fails or times out waits a few heartbeats for that verdict and
// returns it, or else returns what each rank was doing. Losing rank 0 shows as its store
// (which rank 0 serves) going silent.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/distributed_options.h"

namespace at {
class Tensor;
}

namespace ponder::trainer {

struct RankGroupOptions {
  RankEnv env;
  DistributedOptions options;
  bool cuda = false;  // the tensors live on this rank's GPU (NCCL with backend auto)
  // Called once, on the watchdog thread, when a rank is lost. Unset: the message is logged
  // and, unless the main thread ends the process first (it gets the same message from the
  // collective it is in), the process exits with code 1 a few seconds later.
  std::function<void(const absl::Status&)> on_lost;
};

class RankGroup {
 public:
  // Joins the rendezvous (every rank must arrive within init_timeout_s) and creates the
  // process group. Errors name the address, the rank and what to check.
  static absl::StatusOr<std::unique_ptr<RankGroup>> Create(const RankGroupOptions& options);
  ~RankGroup();

  int64_t rank() const;
  int64_t size() const;
  const std::string& backend() const;  // "gloo" or "nccl"
  // Where collectives want their tensors: this rank's GPU with NCCL, else the CPU.
  c10::Device device() const;
  // "rank 1 (host node7, pid 4242)".
  std::string Describe(int64_t rank) const;

  // Sums `tensors` over ranks in place; every rank passes the same shapes. `what` names the
  // collective in messages ("gradients of the policy").
  absl::Status AllReduceSum(std::vector<at::Tensor>& tensors, const std::string& what);
  // Rank 0's `tensors` replace every other rank's.
  absl::Status Broadcast(std::vector<at::Tensor>& tensors, const std::string& what);
  // Rank 0's `bytes` replace every other rank's. The other ranks wait for rank 0 as long as
  // it is alive (it may be generating rollouts for a long time); the transfer has timeout_s.
  absl::Status BroadcastBytes(std::string& bytes, const std::string& what);
  absl::Status Barrier(const std::string& what);

  // An in-place sum started now and waited for later (the gradient buckets).
  class Pending {
   public:
    Pending();
    Pending(Pending&&) noexcept;
    Pending& operator=(Pending&&) noexcept;
    ~Pending();

   private:
    friend class RankGroup;
    struct Work;
    std::unique_ptr<Work> work_;
  };
  absl::StatusOr<Pending> StartAllReduceSum(at::Tensor tensor, const std::string& what);
  absl::Status Wait(Pending& pending);

  // Tells the other ranks that this one gives up with `status` (rank 0 after an error in
  // its own work), so that they end with its message instead of waiting for a timeout.
  void Abort(const absl::Status& status);
  // The end of the job: a last barrier, after which rank 0's store going away is expected.
  absl::Status Finish();

  // The watchdog's verdict: OK while every rank is alive.
  absl::Status lost() const;

  class Impl;

 private:
  explicit RankGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder::trainer
