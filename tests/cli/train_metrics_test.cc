// `ponder train`'s own /metrics (monitor.http), on a real short run: the process, the last
// step, the in-process rollout, the reward client (in process, or `ponder reward` servers
// through reward.addresses), all accepted by `promtool check metrics`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "tests/monitor/monitor_testing.h"
#include "tests/testing.h"
#include "tests/trainer/train_testing.h"

namespace ponder {
namespace {

namespace pt = ponder::testing;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class TrainMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/train_metrics_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      pt::WaitExit(pid_, std::chrono::seconds(30));
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts a long tiny run with monitor.http on a free port and returns its /metrics once
  // two steps are done (empty, with the reason in `why`, when that does not happen within
  // two minutes). The run is stopped with SIGTERM, which ends it with exit code 130.
  std::string ScrapeWhileTraining(const std::string& overrides, std::string* why) {
    const std::string log = dir_ + "/train.log";
    pid_ = pt::Spawn(pt::TrainArgs(dir_ + "/run",
                                   "trainer.steps=100000 eval.every=0 eval.at_end=false "
                                   "checkpoint.every=0 checkpoint.on_signal=false "
                                   "monitor.http.port=0 " +
                                       overrides),
                     log);
    auto fail = [why](const std::string& reason) {
      *why = reason;
      return std::string();
    };
    if (pid_ <= 0) return fail("cannot start ponder train");
    const std::regex url("metrics at http://([0-9.]+):([0-9]+)/metrics");
    const std::regex step("\nponder_train_step ([0-9]+)\n");
    std::smatch m;
    std::string text;
    for (int i = 0; i < 1200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (const int code = pt::WaitExit(pid_, std::chrono::seconds(0)); code != -1) {
        pid_ = -1;
        return fail("ponder train exited (" + std::to_string(code) + "):\n" + pt::ReadFile(log));
      }
      const std::string printed = pt::ReadFile(log);
      if (!std::regex_search(printed, m, url)) continue;
      httplib::Client http(m[1].str(), std::stoi(m[2].str()));
      auto res = http.Get("/metrics");
      if (!res || res->status != 200) continue;
      text = res->body;
      std::smatch s;
      if (std::regex_search(text, s, step) && std::stoi(s[1].str()) >= 2) {
        kill(pid_, SIGTERM);
        const int code = pt::WaitExit(pid_, std::chrono::seconds(60));
        pid_ = code == -1 ? pid_ : -1;
        if (code != 130) *why = "stopped with SIGTERM, exit code " + std::to_string(code);
        return text;
      }
    }
    return fail("no step 2 on /metrics within two minutes; last scrape:\n" + text + "\nlog:\n" +
                pt::ReadFile(log));
  }

  std::string dir_;
  pid_t pid_ = -1;
};

// What every train process shows; `backend` labels its reward client ("local" or "grpc").
void ExpectTrainFamilies(const std::string& text, const std::string& backend) {
  EXPECT_THAT(text, HasSubstr("ponder_process_info{role=\"train\"} 1\n"));
  EXPECT_THAT(text, ContainsRegex("ponder_process_start_time_seconds [1-9]"));
  EXPECT_THAT(text, ContainsRegex("ponder_train_metric\\{name=\"reward/score/mean\"\\} "));
  EXPECT_THAT(text, ContainsRegex("ponder_train_samples_total\\{kind=\"train\"\\} [1-9]"));
  EXPECT_THAT(text, ContainsRegex("ponder_rollout_weight_version [1-9]"));
  EXPECT_THAT(text, ContainsRegex("ponder_rollout_generated_tokens_total [1-9]"));
  EXPECT_THAT(text, HasSubstr("# TYPE ponder_dashboard_requests_total counter\n"));
  // The reward client: at least two steps scored, no retries.
  const std::string b = "backend=\"" + backend + "\"";
  EXPECT_THAT(text, HasSubstr("# TYPE ponder_reward_client_seconds histogram\n"));
  EXPECT_THAT(text, ContainsRegex("ponder_reward_client_seconds_count\\{" + b +
                                  "\\} ([2-9]|[1-9][0-9]+)\n"));
  EXPECT_THAT(text, ContainsRegex("ponder_reward_client_calls_total\\{" + b +
                                  ",code=\"OK\"\\} ([2-9]|[1-9][0-9]+)\n"));
  EXPECT_THAT(text, ContainsRegex("ponder_reward_client_items_total\\{" + b +
                                  ",outcome=\"OK\"\\} [1-9][0-9]"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_client_retries_total{" + b + "} 0\n"));
  const monitor::PromtoolResult check = monitor::PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

TEST_F(TrainMetricsTest, InProcessRewardPassesPromtool) {
  std::string why;
  const std::string text = ScrapeWhileTraining("", &why);
  ASSERT_TRUE(why.empty()) << why;
  ExpectTrainFamilies(text, "local");
}

TEST_F(TrainMetricsTest, RewardServersPassPromtool) {
  pt::Server reward(
      {pt::Ponder(), "reward", "--listen", "127.0.0.1:0", "--config", pt::TinyConfig()},
      dir_ + "/reward.out");
  ASSERT_FALSE(reward.address.empty()) << pt::ReadFile(dir_ + "/reward.out.err");
  std::string why;
  const std::string text = ScrapeWhileTraining("reward.addresses=[" + reward.address + "]", &why);
  ASSERT_TRUE(why.empty()) << why;
  ExpectTrainFamilies(text, "grpc");
}

}  // namespace
}  // namespace ponder
