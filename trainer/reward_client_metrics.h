// Prometheus metrics of the trainer's reward client (`ponder train`'s /metrics): how long the
// controller waits for a batch to be scored and which items come back without a score,
// whether the rewards are computed in process or by `ponder reward` servers
// (reward.addresses). The servers' own verifier latencies are on their /metrics
// (serving_metrics.h).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "monitor/prometheus.h"
#include "reward/reward_backend.h"

namespace ponder::trainer {

// Wraps `backend` so that each Score call is counted in `registry`:
//   ponder_reward_client_seconds{backend}            histogram of one call (the whole batch)
//   ponder_reward_client_calls_total{backend,code}   calls by result (OK, or why the request
//                                                    was refused)
//   ponder_reward_client_items_total{backend,outcome} items by outcome: OK, or the item's error
//                                                    code (an item without a score)
// and, read from backend->Counts() at each scrape, ponder_reward_client_retries_total{backend}
// and ponder_reward_client_server_failures_total{backend}. `kind` labels them ("local" or
// "grpc"). Call once per registry; the returned backend must outlive the registry's scrapes.
std::unique_ptr<reward::RewardBackend> WithRewardClientMetrics(
    std::unique_ptr<reward::RewardBackend> backend, const std::string& kind,
    monitor::Registry& registry);

// The backend `options` asks for (reward::MakeRewardBackend), with the metrics above in
// `registry` when there is one: backend="grpc" with reward.addresses, else "local".
absl::StatusOr<std::unique_ptr<reward::RewardBackend>> MakeMeteredRewardBackend(
    const reward::RewardOptions& options, monitor::Registry* registry);

}  // namespace ponder::trainer
