// What the trainer knows about one of its workers (a rollout worker or a reward server), for
// the step metrics (`workers/*`) and the dashboard's worker table. Plain C++.
#pragma once

#include <cstdint>
#include <string>

namespace ponder::rpc {

struct WorkerStatus {
  std::string role;     // "rollout" or "reward"
  std::string address;  // IP:PORT (or HOST:PORT as configured)
  std::string source;   // the configured address it came from (a DNS name may give several)
  // "joining" (connecting, or receiving the current weights before it gets work), "alive",
  // "failed" (dead, hung or cut off: probed until it answers again), "gone" (no longer
  // among the addresses).
  std::string state;
  int64_t weight_version = -1;      // rollout: the trainer's version it holds (-1: none yet)
  int64_t in_flight = 0;            // sequences (rollout) or items (reward) sent and not back
  int64_t served = 0;               // trajectories or items it delivered
  int64_t failures = 0;             // times it was declared failed
  double kv_cache_use = 0;          // rollout: KV cache bytes used / budget, at the last probe
  double seconds_since_answer = 0;  // since its last good answer
  std::string last_error;
};

}  // namespace ponder::rpc
