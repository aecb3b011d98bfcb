// The trainer's reward client on /metrics (trainer/reward_client_metrics.h): call latency,
// calls and items by outcome, retries and server failures, through promtool.
#include "trainer/reward_client_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/monitor/monitor_testing.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

// Scores "ok" as 1, fails any other item with DeadlineExceeded, refuses a batch of none.
class FakeRewardBackend : public reward::RewardBackend {
 public:
  absl::StatusOr<std::vector<reward::ItemResult>> Score(
      const std::vector<reward::VerifyInput>& items, const reward::BatchOptions&) override {
    if (items.empty()) return absl::InvalidArgumentError("no items");
    std::vector<reward::ItemResult> out(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].response == "ok") {
        out[i].result.score = 1;
      } else {
        out[i].status = absl::DeadlineExceededError("verifier timed out");
      }
    }
    return out;
  }
  absl::StatusOr<std::vector<reward::VerifierInfo>> ListVerifiers() override {
    return std::vector<reward::VerifierInfo>{{"fake", "a test double"}};
  }
  reward::RewardCallCounts Counts() const override { return counts; }
  reward::RewardCallCounts counts;
};

reward::VerifyInput Item(const std::string& response) {
  reward::VerifyInput item;
  item.response = response;
  return item;
}

TEST(RewardClientMetricsTest, CountsCallsItemsAndLatency) {
  monitor::Registry registry;
  auto fake = std::make_unique<FakeRewardBackend>();
  FakeRewardBackend* inner = fake.get();
  std::unique_ptr<reward::RewardBackend> backend =
      WithRewardClientMetrics(std::move(fake), "grpc", registry);

  // Before any call: every family is there, at zero.
  std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_seconds_count{backend=\"grpc\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_retries_total{backend=\"grpc\"} 0\n"));

  absl::StatusOr<std::vector<reward::ItemResult>> scored =
      backend->Score({Item("ok"), Item("slow"), Item("ok")}, {});
  ASSERT_TRUE(scored.ok()) << scored.status();
  ASSERT_EQ(scored->size(), 3u);  // passed through unchanged
  EXPECT_EQ((*scored)[0].result.score, 1);
  EXPECT_EQ((*scored)[1].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(backend->Score({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend->ListVerifiers()->front().name, "fake");
  inner->counts = {.retries = 2, .failed_items = 1, .server_failures = 1};

  text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_seconds_count{backend=\"grpc\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("ponder_reward_client_calls_total{backend=\"grpc\",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_calls_total{backend=\"grpc\","
                              "code=\"INVALID_ARGUMENT\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("ponder_reward_client_items_total{backend=\"grpc\",outcome=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_items_total{backend=\"grpc\","
                              "outcome=\"DEADLINE_EXCEEDED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_retries_total{backend=\"grpc\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_server_failures_total{backend=\"grpc\"} 1\n"));
  // The counters follow the backend's totals without counting them twice.
  text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_retries_total{backend=\"grpc\"} 2\n"));

  const monitor::PromtoolResult check = monitor::PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

}  // namespace
}  // namespace ponder::trainer
