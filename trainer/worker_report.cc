#include "trainer/worker_report.h"

#include <filesystem>

#include "base/file.h"

namespace ponder::trainer {

std::vector<rpc::WorkerStatus> AllWorkers(const rollout::RolloutPool* pool,
                                          const reward::RewardBackend& reward) {
  std::vector<rpc::WorkerStatus> out;
  if (pool != nullptr) out = pool->Workers();
  for (rpc::WorkerStatus& w : reward.Workers()) out.push_back(std::move(w));
  return out;
}

void AddWorkerMetrics(const rollout::RolloutPool* pool, const reward::RewardBackend& reward,
                      monitor::Metrics* metrics) {
  monitor::Metrics& m = *metrics;
  if (pool != nullptr) {
    double alive = 0;
    for (const rpc::WorkerStatus& w : pool->Workers()) alive += w.state == "alive" ? 1 : 0;
    const rollout::PoolCounts counts = pool->Counts();
    m["workers/rollout_alive"] = alive;
    m["workers/rollout_failed"] = static_cast<double>(counts.failures);
    m["workers/rollout_joined"] = static_cast<double>(counts.joins);
    m["workers/reissued_prompts"] = static_cast<double>(counts.reissued_prompts);
    m["workers/reissued_samples"] = static_cast<double>(counts.reissued_samples);
    m["workers/duplicates_dropped"] = static_cast<double>(counts.duplicates_dropped);
  }
  const std::vector<rpc::WorkerStatus> servers = reward.Workers();
  if (!servers.empty()) {
    double alive = 0;
    for (const rpc::WorkerStatus& w : servers) alive += w.state == "alive" ? 1 : 0;
    const reward::RewardCallCounts counts = reward.Counts();
    m["workers/reward_alive"] = alive;
    m["workers/reward_failed"] = static_cast<double>(counts.server_failures);
    m["reward/rpc_retries"] = static_cast<double>(counts.retries);
    m["reward/failed_items"] = static_cast<double>(counts.failed_items);
  }
}

nlohmann::json WorkerJson(const rpc::WorkerStatus& w) {
  return {{"role", w.role},
          {"address", w.address},
          {"source", w.source},
          {"state", w.state},
          {"weight_version", w.weight_version},
          {"in_flight", w.in_flight},
          {"served", w.served},
          {"failures", w.failures},
          {"kv_cache_use", w.kv_cache_use},
          {"seconds_since_answer", w.seconds_since_answer},
          {"last_error", w.last_error}};
}

absl::Status WriteWorkersFile(const std::string& run_dir, int64_t step,
                              const std::vector<rpc::WorkerStatus>& workers) {
  namespace fs = std::filesystem;
  nlohmann::json list = nlohmann::json::array();
  for (const rpc::WorkerStatus& w : workers) list.push_back(WorkerJson(w));
  return file::WriteFileAtomically(
      (fs::path(run_dir) / "workers.json").string(),
      nlohmann::json{{"step", step}, {"workers", list}}.dump(1) + "\n");
}

}  // namespace ponder::trainer
