// The trainer's workers as the run shows them: `workers/*` step metrics and
// RUN_DIR/workers.json (the dashboard's worker table), from the rollout pool and the reward
// backend (rpc/worker_status.h).
//
// Step metrics (totals since the start, except the counts of live workers):
//   workers/rollout_alive, workers/rollout_failed (failures declared),
//   workers/rollout_joined (workers that joined or rejoined with the current weights),
//   workers/reissued_prompts, workers/reissued_samples (sent to another worker after a
//   failure), workers/duplicates_dropped (late trajectories of samples already delivered),
//   workers/reward_alive, workers/reward_failed, reward/rpc_retries, reward/failed_items.
// Nothing when rollout and reward both run in process.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "monitor/metrics.h"
#include "reward/reward_backend.h"
#include "rollout/worker_pool.h"
#include "rpc/worker_status.h"

namespace ponder::trainer {

// Every worker of the run: the pool's (when the rollout is remote) then the reward servers.
std::vector<rpc::WorkerStatus> AllWorkers(const rollout::RolloutPool* pool,
                                          const reward::RewardBackend& reward);

void AddWorkerMetrics(const rollout::RolloutPool* pool, const reward::RewardBackend& reward,
                      monitor::Metrics* metrics);

// {"role", "address", "source", "state", "weight_version", "in_flight", "served",
//  "failures", "kv_cache_use", "seconds_since_answer", "last_error"}
nlohmann::json WorkerJson(const rpc::WorkerStatus& worker);

// Writes {"step": step, "workers": [...]} to RUN_DIR/workers.json (replaced atomically).
absl::Status WriteWorkersFile(const std::string& run_dir, int64_t step,
                              const std::vector<rpc::WorkerStatus>& workers);

}  // namespace ponder::trainer
