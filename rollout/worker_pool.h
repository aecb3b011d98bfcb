// RolloutPool: many `ponder rollout` workers behind one RolloutBackend, so that the
// controller drives a pool as it drives one engine (DESIGN.md §2).
//
// Workers come from `rollout.addresses`: HOST:PORT entries, where a DNS name stands for every
// address it resolves to (a Kubernetes headless service), re-resolved every
// resolve_interval. At Connect every worker must answer its health service and accept the
// token within connect_timeout, else the error names its address.
//
// Generation: the prompts of a request are spread over the live workers by load (sequences
// in flight per KV cache byte, both as last reported), a prompt's n samples on one worker so
// that they share its prefill. Trajectories stream back as they finish.
//
// Failures: a worker whose call fails for want of it (connection lost, refused), or that
// misses `health_misses` health probes in a row (each with `health_timeout`: dead, hung or
// cut off), is failed: its calls are cancelled and its unfinished prompts go to the other
// workers. A sample is identified by (prompt index, sample index): a re-issued prompt asks
// for samples 0..k (k the largest missing index; a sample's tokens depend only on its seed,
// prompt and sample index and the weights, rollout/sampler.h) and keeps only the missing
// ones, and a trajectory for a sample already delivered (a late duplicate) is dropped, so
// every sample is delivered exactly once. Paused partial rollouts held by a failed worker are
// generated again from the start at the next request that resumes paused samples.
//
// Weights: UpdateWeights keeps a copy of the newest version (in shared memory when
// `shared_memory`: workers on this host map it, others get it streamed) and sends it to every
// live worker in parallel; a worker that fails then is failed. A worker that answers again (or a
// new one) first gets the newest version (not the ones in between) and only then work.
// Versions are the trainer's: each worker's own numbers (which must only go up, and start
// wherever its process started) are mapped to and from them.
//
// With no worker alive, work waits up to no_worker_timeout for one to (re)join, then ends
// UNAVAILABLE naming the addresses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rollout/grpc_backend.h"
#include "rollout/rollout.h"
#include "rpc/worker_status.h"

namespace ponder::rollout {

struct PoolOptions {
  std::vector<std::string> addresses;
  GrpcBackendOptions client;  // token, TLS, per-call deadlines
  absl::Duration connect_timeout = absl::Seconds(60);
  absl::Duration health_interval = absl::Seconds(1);
  absl::Duration health_timeout = absl::Seconds(2);
  int health_misses = 2;
  absl::Duration resolve_interval = absl::Seconds(30);
  absl::Duration no_worker_timeout = absl::Seconds(300);
  // Keep each version in a shared-memory file that workers on this host map instead of
  // receiving it through the stream (rollout/shared_weights.h); workers that cannot open it
  // are streamed to.
  bool shared_memory = true;
};

// Totals since the pool was created.
struct PoolCounts {
  int64_t failures = 0;            // workers declared failed
  int64_t joins = 0;               // workers that (re)joined after the start
  int64_t reissued_prompts = 0;    // prompts sent to another worker after a failure
  int64_t reissued_samples = 0;    // their samples that were still missing
  int64_t duplicates_dropped = 0;  // trajectories of samples already delivered
};

class RolloutPool : public RolloutBackend {
 public:
  static absl::StatusOr<std::unique_ptr<RolloutPool>> Connect(const PoolOptions& options);
  ~RolloutPool() override;  // cancels running calls

  absl::StatusOr<std::shared_ptr<GenerateCall>> StartGenerate(GenerateRequest request,
                                                              GenerateCallbacks callbacks) override;
  // The first update must reach every worker (an error names the one that failed); later
  // ones go to the live workers, and a worker that fails is failed (it rejoins later).
  absl::Status UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors) override;
  // The pool as one backend: the newest version pushed, the workers' sequences and caches
  // summed, the smallest context.
  absl::StatusOr<BackendStatus> GetStatus() override;

  std::vector<rpc::WorkerStatus> Workers() const;
  PoolCounts Counts() const;

  class Impl;

 private:
  explicit RolloutPool(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace ponder::rollout
