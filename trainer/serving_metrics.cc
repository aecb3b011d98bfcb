#include "trainer/serving_metrics.h"

#include <memory>
#include <mutex>

#include "absl/status/status.h"

namespace ponder::trainer {
namespace {

// "OK", "DEADLINE_EXCEEDED", ...: gRPC's spelling of the codes.
std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

void CountVerdicts(const nlohmann::json& details, monitor::Family<monitor::Counter>& verdicts) {
  if (!details.is_object()) return;
  auto it = details.find("verdict");
  if (it != details.end() && it->is_string()) {
    verdicts.Labels({it->get<std::string>()}).Inc();
    return;
  }
  for (const auto& [term, inner] : details.items()) {  // a composite reward: per term
    if (inner.is_object() && inner.contains("verdict")) CountVerdicts(inner, verdicts);
  }
}

}  // namespace

void AddRolloutMetrics(monitor::Registry& registry, rollout::RolloutBackend* backend) {
  auto& version = registry.AddGauge("ponder_rollout_weight_version",
                                    "Weight version the rollout generates with.");
  auto& sequences = registry.AddGauge(
      "ponder_rollout_sequences",
      "Sequences by state: active (holding a KV slot), waiting (queued), paused (partial).",
      {"state"});
  auto& kv = registry.AddGauge("ponder_rollout_kv_cache_bytes",
                               "KV cache bytes in use and the budget.", {"kind"});
  auto& rate = registry.AddGauge("ponder_rollout_tokens_per_second",
                                 "Generated tokens per second over the last few seconds.");
  auto& tokens = registry.AddCounter("ponder_rollout_generated_tokens_total",
                                     "Tokens generated since the process started.");
  auto& errors = registry.AddCounter("ponder_rollout_status_errors_total",
                                     "Scrapes at which the backend's status could not be read.");
  // The backend counts tokens itself; the counter follows its total.
  auto seen = std::make_shared<std::pair<std::mutex, double>>();
  registry.AddCollector([=, &version, &sequences, &kv, &rate, &tokens, &errors] {
    absl::StatusOr<rollout::BackendStatus> s = backend->GetStatus();
    if (!s.ok()) {
      errors.Labels({}).Inc();
      return;
    }
    version.Labels({}).Set(static_cast<double>(s->weight_version));
    sequences.Labels({"active"}).Set(s->active_sequences);
    sequences.Labels({"waiting"}).Set(s->waiting_sequences);
    sequences.Labels({"paused"}).Set(s->paused_sequences);
    kv.Labels({"used"}).Set(static_cast<double>(s->kv_cache_bytes_used));
    kv.Labels({"budget"}).Set(static_cast<double>(s->kv_cache_bytes_budget));
    rate.Labels({}).Set(s->gen_tokens_per_s);
    std::lock_guard<std::mutex> lock(seen->first);
    const double total = static_cast<double>(s->generated_tokens_total);
    if (total > seen->second) tokens.Labels({}).Inc(total - seen->second);
    seen->second = std::max(seen->second, total);
  });
}

std::function<void(const std::string&, const char*, absl::StatusCode, double)> RpcMetrics(
    monitor::Registry& registry) {
  auto& calls = registry.AddCounter("ponder_rpc_total", "Finished RPCs by service, method, code.",
                                    {"service", "method", "code"});
  auto& seconds = registry.AddHistogram("ponder_rpc_seconds", "RPC duration in seconds.",
                                        {"service", "method"});
  return [&calls, &seconds](const std::string& service, const char* method, absl::StatusCode code,
                            double s) {
    calls.Labels({service, method, CodeName(code)}).Inc();
    seconds.Labels({service, method}).Observe(s);
  };
}

std::function<void(const std::string&, const reward::ItemResult&)> RewardItemMetrics(
    monitor::Registry& registry) {
  auto& items = registry.AddCounter("ponder_reward_items_total",
                                    "Scored items by scorer and outcome (OK or the error code).",
                                    {"scorer", "outcome"});
  auto& latency = registry.AddHistogram("ponder_reward_item_seconds",
                                        "Time to score one item (verifier latency).", {"scorer"});
  auto& verdicts = registry.AddCounter(
      "ponder_reward_code_verdicts_total",
      "Sandbox outcomes of the code verifier (passed, wrong_answer, wall_timeout, ...).",
      {"verdict"});
  return [&items, &latency, &verdicts](const std::string& scorer, const reward::ItemResult& r) {
    items.Labels({scorer, CodeName(r.status.code())}).Inc();
    latency.Labels({scorer}).Observe(r.seconds);
    if (r.status.ok()) CountVerdicts(r.result.details, verdicts);
  };
}

}  // namespace ponder::trainer
