// Prometheus metrics of serving (monitor/prometheus.h) for the processes that generate or
// score: `ponder rollout`, `ponder reward` and `ponder train` with its in-process rollout and
// reward. Kept out of the step log: these are for operators (dashboards, alerts).
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "monitor/prometheus.h"
#include "reward/reward.h"
#include "rollout/rollout.h"

namespace ponder::trainer {

// Read from backend->GetStatus() at each scrape: ponder_rollout_weight_version,
// ponder_rollout_sequences{state=active|waiting|paused} (waiting is the queue depth),
// ponder_rollout_kv_cache_bytes{kind=used|budget}, ponder_rollout_tokens_per_second and
// ponder_rollout_generated_tokens_total. `backend` must outlive the registry's scrapes.
void AddRolloutMetrics(monitor::Registry& registry, rollout::RolloutBackend* backend);

// ponder_rpc_total{service,method,code} and ponder_rpc_seconds{service,method}, fed by the
// returned observer (rollout::ServerOptions::on_call, reward::RewardServerOptions::on_call).
// Call once per registry; the observer serves any number of services.
std::function<void(const std::string& service, const char* method, absl::StatusCode code,
                   double seconds)>
RpcMetrics(monitor::Registry& registry);

// ponder_reward_items_total{scorer,outcome} (ok, or the error's code), the verifier latency
// histogram ponder_reward_item_seconds{scorer}, and sandbox outcomes
// ponder_reward_code_verdicts_total{verdict} (from the code verifier's details.verdict, also
// inside a composite reward's details).
std::function<void(const std::string& scorer, const reward::ItemResult& result)> RewardItemMetrics(
    monitor::Registry& registry);

}  // namespace ponder::trainer
