// `ponder demo` end to end, shortened (label `e2e`, about 3 minutes on 2 cores): 2-digit
// addition instead of 3 (a warm start in seconds) and a 3-minute budget. While it runs, its
// dashboard must serve the RL run's and the control's held-out curves; the RL phase's training
// reward must rise, and the summary must end with the held-out accuracy line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using ::testing::HasSubstr;

constexpr char kHeldOut[] = "val/arithmetic/mean@8";

// The number of points of the run's held-out mean@8 on the dashboard (-1: no such run yet).
int64_t HeldOutPoints(httplib::Client& client, const std::string& run) {
  auto res = client.Get(absl::StrCat("/api/series?run=", run, "&names=", kHeldOut));
  if (!res || res->status != 200) return -1;
  nlohmann::json body = nlohmann::json::parse(res->body);
  return static_cast<int64_t>(body["series"][kHeldOut]["step"].size());
}

TEST(DemoTest, ShortDemoRaisesTheRewardAndPrintsTheSummary) {
  std::string dir = "/tmp/ponder_demo_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string run_dir = dir + "/demo";
  const std::string out_path = dir + "/demo.out";
  pt::Server demo({pt::BinaryPath("cli/ponder"), "demo", "--minutes", "3", "--no-browser", "--port",
                   "0", "--run-dir", run_dir, "data.task.levels=[2]", "data.task.train_size=6000",
                   "data.task.val_size=200"},
                  out_path);
  ASSERT_FALSE(demo.address.empty()) << "the demo printed no dashboard address:\n"
                                     << pt::ReadFile(out_path) << pt::ReadFile(out_path + ".err");
  const size_t colon = demo.address.rfind(':');
  httplib::Client client(demo.address.substr(0, colon), std::stoi(demo.address.substr(colon + 1)));

  // The dashboard, live: RL's and the control's held-out curves, while the demo runs.
  int64_t rl_points = -1, control_points = -1;
  int status = 0;
  bool exited = false;
  while (!exited && (rl_points < 1 || control_points < 1)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rl_points = HeldOutPoints(client, "rl");
    control_points = HeldOutPoints(client, "control");
    exited = waitpid(demo.pid, &status, WNOHANG) == demo.pid;
  }
  EXPECT_GE(rl_points, 1) << "RL's held-out curve never appeared on the dashboard";
  EXPECT_GE(control_points, 1) << "the control's held-out curve never appeared on the dashboard";
  if (!exited) waitpid(demo.pid, &status, 0);
  demo.pid = -1;
  pt::CommandResult r{.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128,
                      .out = pt::ReadFile(out_path),
                      .err = pt::ReadFile(out_path + ".err")};
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("dashboard: http://" + demo.address + "/#run=rl&overlay=control"));

  // The summary's last line: held-out mean@8 of the warm start and of RL.
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines.back(), m,
                               std::regex(R"(held-out accuracy: ([0-9.]+)% -> ([0-9.]+)%)")))
      << lines.back();
  EXPECT_THAT(r.out, HasSubstr("control (continued SFT on the same demonstrations)"));
  EXPECT_THAT(r.out, HasSubstr("wall time: "));
  EXPECT_TRUE(fs::exists(run_dir + "/summary.txt"));

  // The RL run's training reward: the mean of its last 20 steps clearly above its first 20.
  // (Runs of this test on 2 cores: about 0.2 at the start and above 0.5 by the end.)
  std::vector<double> rewards;
  std::ifstream in(run_dir + "/rl/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    const nlohmann::json& metrics = record["metrics"];
    if (metrics.contains("reward/score/mean")) rewards.push_back(metrics["reward/score/mean"]);
  }
  ASSERT_GE(rewards.size(), 60u) << "RL ran only " << rewards.size() << " steps";
  double first = 0, last = 0;
  for (size_t i = 0; i < 20; ++i) {
    first += rewards[i] / 20;
    last += rewards[rewards.size() - 1 - i] / 20;
  }
  EXPECT_GT(last, first + 0.1) << "first 20 steps " << first << ", last 20 " << last;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace ponder
