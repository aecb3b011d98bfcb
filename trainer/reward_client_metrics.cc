#include "trainer/reward_client_metrics.h"

#include <chrono>
#include <mutex>
#include <utility>

#include "absl/status/status.h"

namespace ponder::trainer {
namespace {

struct ClientFamilies {
  monitor::Family<monitor::Histogram>* seconds;
  monitor::Family<monitor::Counter>* calls;
  monitor::Family<monitor::Counter>* items;
};

class MeteredRewardBackend : public reward::RewardBackend {
 public:
  MeteredRewardBackend(std::unique_ptr<reward::RewardBackend> inner, std::string kind,
                       ClientFamilies families)
      : inner_(std::move(inner)), kind_(std::move(kind)), families_(families) {}

  absl::StatusOr<std::vector<reward::ItemResult>> Score(
      const std::vector<reward::VerifyInput>& items, const reward::BatchOptions& options) override {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<reward::ItemResult>> scored = inner_->Score(items, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    families_.seconds->Labels({kind_}).Observe(seconds);
    families_.calls->Labels({kind_, absl::StatusCodeToString(scored.status().code())}).Inc();
    if (scored.ok()) {
      for (const reward::ItemResult& r : *scored) {
        families_.items->Labels({kind_, absl::StatusCodeToString(r.status.code())}).Inc();
      }
    }
    return scored;
  }
  absl::StatusOr<std::vector<reward::VerifierInfo>> ListVerifiers() override {
    return inner_->ListVerifiers();
  }
  std::vector<rpc::WorkerStatus> Workers() const override { return inner_->Workers(); }
  reward::RewardCallCounts Counts() const override { return inner_->Counts(); }

 private:
  const std::unique_ptr<reward::RewardBackend> inner_;
  const std::string kind_;
  const ClientFamilies families_;
};

}  // namespace

std::unique_ptr<reward::RewardBackend> WithRewardClientMetrics(
    std::unique_ptr<reward::RewardBackend> backend, const std::string& kind,
    monitor::Registry& registry) {
  ClientFamilies families{
      .seconds = &registry.AddHistogram(
          "ponder_reward_client_seconds",
          "Time the trainer waited for one batch to be scored (one reward call).", {"backend"}),
      .calls = &registry.AddCounter(
          "ponder_reward_client_calls_total",
          "Reward calls of the trainer by result (OK, or why the request was refused).",
          {"backend", "code"}),
      .items = &registry.AddCounter(
          "ponder_reward_client_items_total",
          "Items the trainer sent to be scored, by outcome (OK, or the item's error code).",
          {"backend", "outcome"}),
  };
  auto& retries = registry.AddCounter("ponder_reward_client_retries_total",
                                      "Reward calls sent again after a failure.", {"backend"});
  auto& failures = registry.AddCounter(
      "ponder_reward_client_server_failures_total",
      "Times a reward server was found unreachable, hung or cut off.", {"backend"});
  auto metered = std::make_unique<MeteredRewardBackend>(std::move(backend), kind, families);
  // The backend keeps totals; the counters follow them. Every label set exists from the
  // start, so a scrape shows zeros rather than nothing.
  families.seconds->Labels({kind});
  families.calls->Labels({kind, "OK"});
  families.items->Labels({kind, "OK"});
  retries.Labels({kind});
  failures.Labels({kind});
  auto seen = std::make_shared<std::pair<std::mutex, reward::RewardCallCounts>>();
  const reward::RewardBackend* counted = metered.get();
  registry.AddCollector([=, &retries, &failures] {
    const reward::RewardCallCounts now = counted->Counts();
    std::lock_guard<std::mutex> lock(seen->first);
    reward::RewardCallCounts& last = seen->second;
    if (now.retries > last.retries) {
      retries.Labels({kind}).Inc(static_cast<double>(now.retries - last.retries));
      last.retries = now.retries;
    }
    if (now.server_failures > last.server_failures) {
      failures.Labels({kind}).Inc(static_cast<double>(now.server_failures - last.server_failures));
      last.server_failures = now.server_failures;
    }
  });
  return metered;
}

absl::StatusOr<std::unique_ptr<reward::RewardBackend>> MakeMeteredRewardBackend(
    const reward::RewardOptions& options, monitor::Registry* registry) {
  absl::StatusOr<std::unique_ptr<reward::RewardBackend>> backend =
      reward::MakeRewardBackend(options);
  if (!backend.ok() || registry == nullptr) return backend;
  return WithRewardClientMetrics(std::move(*backend), options.addresses.empty() ? "local" : "grpc",
                                 *registry);
}

}  // namespace ponder::trainer
