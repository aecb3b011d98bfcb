// RolloutPool's insides, shared by worker_pool.cc (generation: spreading prompts, collecting
// trajectories, re-issuing) and worker_pool_members.cc (workers: connecting, health probes,
// failures, joins, weights).
//
// Locks: a call's `mu` may be held while taking the pool's `mu`, never the other way round.
// Backend calls (StartGenerate, Cancel, UpdateWeights) run with neither held.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rollout/shared_weights.h"
#include "rollout/worker_pool.h"
#include "rpc/channel.h"

namespace ponder::rollout {

struct PoolWorker {
  enum class State { kJoining, kAlive, kFailed, kGone };

  rpc::Endpoint endpoint;
  std::unique_ptr<GrpcRolloutBackend> client;  // null while it has never answered
  // Guarded by the pool's mu:
  State state = State::kJoining;
  bool join_queued = false;
  int64_t offset = 0;    // its version = the trainer's version + offset
  int64_t version = -1;  // the trainer's version it holds (-1: none of this session)
  int64_t in_flight = 0;
  int64_t served = 0;
  int64_t failures = 0;
  int64_t epoch = 0;  // bumped when it fails: sub-calls of an earlier epoch cannot fail it
  int misses = 0;
  bool shared_memory = true;  // may get weights through shared memory (until it cannot)
  double kv_budget = 1;       // bytes (capacity), from its status
  double kv_used = 0;
  uint32_t max_context = 0;
  absl::Time last_answer = absl::Now();
  std::string last_error;
  std::vector<std::weak_ptr<GenerateCall>> calls;  // its running sub-calls (for Cancel)
  // Paused partial rollouts it holds: (prompt, sample) -> the prompt's request.
  std::map<std::pair<uint64_t, uint32_t>, PromptRequest> paused;

  std::mutex sync_mu;  // one weight transfer to it at a time
};

// The newest weights, owned (a copy), for workers that join later.
struct WeightSnapshot {
  int64_t version = 0;
  std::vector<WeightTensor> tensors;
  std::shared_ptr<SharedWeightsFile> file;  // where they lie, when in shared memory
  uint32_t crc32c = 0;                      // of their bytes in order (with `file`)
};

// One StartGenerate of the pool, spread over sub-calls to workers.
struct PoolCall {
  struct Sub {
    std::shared_ptr<PoolWorker> worker;
    int64_t offset = 0;  // the worker's offset when the sub-call started
    int64_t epoch = 0;   // the worker's epoch then
    GenerateRequest request;
    std::shared_ptr<GenerateCall> handle;
    std::vector<uint64_t> prompts;  // prompt indices whose samples it owes
    bool done = false;
    bool cancel = false;  // cancel as soon as the handle exists
  };

  GenerateCallbacks callbacks;
  std::string request_id;
  bool return_text = false;
  absl::Time deadline = absl::InfiniteFuture();

  std::mutex mu;
  std::map<uint64_t, PromptRequest> prompts;           // by prompt index
  std::map<uint64_t, std::set<uint32_t>> outstanding;  // samples not yet delivered
  std::vector<uint64_t> unassigned;                    // prompts waiting for a worker
  std::vector<std::unique_ptr<Sub>> subs;
  absl::Time waiting_since = absl::InfiniteFuture();  // unassigned since
  bool finished = false;
  int64_t next_sub = 0;
};

class RolloutPool::Impl : public std::enable_shared_from_this<RolloutPool::Impl> {
 public:
  explicit Impl(PoolOptions options) : options_(std::move(options)) {}

  // worker_pool_members.cc
  absl::Status ConnectAll();
  void StartThreads();
  void Stop();
  absl::Status UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors);
  absl::StatusOr<BackendStatus> GetStatus();
  std::vector<rpc::WorkerStatus> Workers() const;
  PoolCounts Counts() const;
  // Declares `worker` failed (once per epoch; -1: whatever its epoch): cancels its
  // sub-calls, whose prompts are re-issued, and hands its paused samples to `orphaned_`.
  void Fail(const std::shared_ptr<PoolWorker>& worker, const std::string& why, int64_t epoch = -1);
  // Fail's first half, under the pool's mu alone (callable with a call's mu held): the
  // sub-calls still to cancel.
  std::vector<std::weak_ptr<GenerateCall>> MarkFailed(const std::shared_ptr<PoolWorker>& worker,
                                                      const std::string& why, int64_t epoch);

  // worker_pool.cc
  absl::StatusOr<std::shared_ptr<GenerateCall>> StartGenerate(GenerateRequest request,
                                                              GenerateCallbacks callbacks);
  // Hands unassigned prompts of every running call to live workers; ends calls that waited
  // past no_worker_timeout or their deadline.
  void DispatchWaiting();

  const PoolOptions& options() const { return options_; }

  // After Stop: waits (a bounded time) until no sub-call's callback is running or still due.
  void WaitForSubCalls();

 private:
  using Sub = PoolCall::Sub;

  // worker_pool.cc. The Locked ones run with the call's mu held.
  std::vector<Sub*> AssignLocked(PoolCall& call);
  void Launch(const std::shared_ptr<PoolCall>& call, const std::vector<Sub*>& subs);
  void OnTrajectory(const std::shared_ptr<PoolCall>& call, Sub* sub, Trajectory t);
  void OnSubDone(const std::shared_ptr<PoolCall>& call, Sub* sub, const absl::Status& status);
  // Ends the call: its samples still owed come back aborted (unless `status` is OK); returns
  // what to run once the call's mu is released (cancelling sub-calls, on_done).
  std::function<void()> FinishLocked(PoolCall& call, const std::shared_ptr<PoolCall>& self,
                                     absl::Status status);
  void CancelCall(const std::shared_ptr<PoolCall>& call);
  friend class PoolCallHandle;

  // worker_pool_members.cc
  void HealthLoop();
  void JoinLoop();
  void Probe(const std::shared_ptr<PoolWorker>& worker);
  absl::Status Join(const std::shared_ptr<PoolWorker>& worker);
  absl::Status Push(const std::shared_ptr<PoolWorker>& worker,
                    const std::shared_ptr<const WeightSnapshot>& snapshot);
  void Resolve();
  void QueueJoinLocked(const std::shared_ptr<PoolWorker>& worker);

  PoolOptions options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<PoolWorker>> workers_;  // guarded by mu_
  std::shared_ptr<const WeightSnapshot> latest_;      // guarded by mu_
  std::set<std::shared_ptr<PoolCall>> calls_;         // running calls, guarded by mu_
  PoolCounts counts_;                                 // guarded by mu_
  // Paused samples whose worker failed: generated again from the start (guarded by mu_).
  std::map<std::pair<uint64_t, uint32_t>, PromptRequest> orphaned_;
  absl::Time resolved_at_ = absl::InfinitePast();

  // Sub-calls whose on_done has not yet returned. Their callbacks hold the pool only weakly
  // and drop the call before they count themselves done, so once none is left the pool and
  // its workers' channels are released on its owner's thread (~RolloutPool), never on a gRPC
  // thread after the owner has moved on or the process has begun to exit (where gRPC aborted
  // with "ref_counted.h:183 assertion failed: prior > 0").
  struct SubCallCount {
    std::mutex mu;
    std::condition_variable cv;
    int64_t running = 0;  // guarded by mu
    void Add();
    void Done();
  };
  std::shared_ptr<SubCallCount> sub_calls_ = std::make_shared<SubCallCount>();

  std::condition_variable cv_;                           // wakes the health and join threads
  bool stopping_ = false;                                // guarded by mu_
  std::vector<std::shared_ptr<PoolWorker>> join_queue_;  // guarded by mu_
  std::thread health_thread_;
  std::thread join_thread_;
};

}  // namespace ponder::rollout
