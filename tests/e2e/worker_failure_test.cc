// A job of separate processes, as on a cluster: `ponder train` with two `ponder rollout`
// workers and one `ponder reward` server, every service behind a token.
//
//   - On loopback: one worker is SIGKILLed mid-run and another started at its address. The
//     run completes; every requested trajectory is trained on exactly once; the metrics
//     record the failure and the rejoin.
//   - Across network namespaces (ip netns + veth pairs, made and removed here; root only):
//     one worker's link is cut (its packets vanish: nothing but a deadline can tell). The
//     failure is found by the health probes' deadline and its work goes to the other worker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/e2e/cluster.h"
#include "tests/skip.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using ::testing::HasSubstr;

// Long enough that a replacement started after step 2 joins before the run ends (steps take
// ~0.1 s here with the paged KV cache).
constexpr int64_t kSteps = 40;
constexpr int64_t kPrompts = 16;
constexpr int64_t kSamples = 4;

class WorkerFailureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = "/tmp/ponder_e2e_workers_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    // A model folder the workers load: the tiny model after one step.
    pt::CommandResult r = pt::RunCommand(
        absl::StrCat(pt::Ponder(), " train --config ", pt::TinyConfig(), " run.dir=", root_,
                     "/init trainer.steps=1 eval.every=0 eval.at_end=false"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static std::string Path(const std::string& name) { return root_ + "/" + name; }
  static std::string Model() { return Path("init/checkpoints/step_1/policy"); }

  // `prefix` runs the command elsewhere (e.g. {"ip", "netns", "exec", NS}).
  static std::vector<std::string> RolloutArgs(const std::vector<std::string>& prefix,
                                              const std::string& listen) {
    std::vector<std::string> args = prefix;
    // One sequence at a time: generation takes most of a step, so a failure lands mid-step.
    for (std::string a :
         {pt::Ponder(), std::string("rollout"), std::string("--listen"), listen,
          std::string("--model"), Model(), std::string("rollout.max_seq_len=32"),
          std::string("rollout.kv_cache_bytes=4194304"), std::string("rollout.max_running=1"),
          std::string("rollout.sampling.max_new_tokens=8")}) {
      args.push_back(a);
    }
    return args;
  }
  static std::vector<std::string> RewardArgs(const std::vector<std::string>& prefix) {
    std::vector<std::string> args = prefix;
    for (std::string a : {pt::Ponder(), std::string("reward"), std::string("--config"),
                          pt::TinyConfig(), std::string("--threads"), std::string("1")}) {
      args.push_back(a);
    }
    return args;
  }
  static std::vector<std::string> TrainArgs(const std::vector<std::string>& prefix,
                                            const std::string& run,
                                            const std::vector<std::string>& rollout,
                                            const std::string& reward) {
    std::vector<std::string> args = prefix;
    for (const std::string& a : pt::TrainArgs(
             Path(run),
             absl::StrCat("model.path=", Model(), " model.tokenizer= trainer.steps=", kSteps,
                          " data.train_batch_size=", kPrompts, " rollout.n=", kSamples,
                          " eval.every=0 eval.at_end=false checkpoint.every=0 ",
                          "checkpoint.at_end=false monitor.max_samples_per_step=-1 ",
                          "run.threads=1 rollout.health_interval_s=0.3 ",
                          "rollout.health_timeout_s=1 rollout.health_misses=2 ",
                          "rollout.addresses=[", absl::StrJoin(rollout, ","), "] ",
                          "reward.addresses=[", reward, "]"))) {
      args.push_back(a);
    }
    return args;
  }

  // Every requested trajectory trained on exactly once.
  static void ExpectEachTrajectoryOnce(const std::string& run) {
    std::map<std::pair<uint64_t, int64_t>, int> samples = pt::TrainedSamples(Path(run), kSteps);
    EXPECT_EQ(samples.size(), static_cast<size_t>(kSteps * kPrompts * kSamples));
    for (const auto& [key, count] : samples) {
      EXPECT_EQ(count, 1) << "prompt " << key.first << " sample " << key.second;
    }
    for (const auto& [step, m] : pt::DeterministicMetrics(Path(run))) {
      EXPECT_EQ(m.at("train/batch_samples").get<int64_t>(), kPrompts * kSamples) << step;
    }
  }

  // Waits until the run has written `lines` metrics lines (false if it ended first).
  static bool WaitForSteps(pt::Process& train, const std::string& run, size_t lines) {
    for (int i = 0; i < 30000; ++i) {  // up to 10 minutes on a busy machine
      if (pt::MetricLines(Path(run)) >= lines) return true;
      int status;
      if (waitpid(train.pid(), &status, WNOHANG) == train.pid()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static std::string root_;
};
std::string WorkerFailureTest::root_;

const std::vector<std::string> kTokens = {"PONDER_ROLLOUT_TOKEN=rollout-e2e-token",
                                          "PONDER_REWARD_TOKEN=reward-e2e-token"};

TEST_F(WorkerFailureTest, AKilledWorkerIsReplacedAndNoTrajectoryIsLostOrCountedTwice) {
  pt::Process a, b, reward, train;
  ASSERT_TRUE(a.Start(RolloutArgs({}, "127.0.0.1:0"), Path("a.log"), kTokens));
  ASSERT_TRUE(b.Start(RolloutArgs({}, "127.0.0.1:0"), Path("b.log"), kTokens));
  ASSERT_TRUE(reward.Start(RewardArgs({}), Path("reward.log"), kTokens));
  const std::string a_address = a.WaitForAddress(), b_address = b.WaitForAddress();
  const std::string reward_address = reward.WaitForAddress();
  ASSERT_FALSE(a_address.empty()) << a.log();
  ASSERT_FALSE(b_address.empty()) << b.log();
  ASSERT_FALSE(reward_address.empty()) << reward.log();
  ASSERT_TRUE(train.Start(TrainArgs({}, "killed", {a_address, b_address}, reward_address),
                          Path("train.log"), kTokens));
  ASSERT_TRUE(WaitForSteps(train, "killed", 2)) << train.log();
  b.Kill(SIGKILL);  // mid-step: generation is most of a step
  pt::Process replacement;
  ASSERT_TRUE(replacement.Start(RolloutArgs({}, b_address), Path("b2.log"), kTokens));
  ASSERT_EQ(replacement.WaitForAddress(), b_address) << replacement.log();

  ASSERT_EQ(pt::WaitExit(train.pid(), std::chrono::seconds(900)), 0) << train.log();
  ExpectEachTrajectoryOnce("killed");
  EXPECT_GE(pt::LastMetric(Path("killed"), "workers/rollout_failed"), 1);
  EXPECT_GE(pt::LastMetric(Path("killed"), "workers/rollout_joined"), 1);
  EXPECT_THAT(train.log(), HasSubstr("rollout worker " + b_address + " failed"));
  EXPECT_THAT(train.log(), HasSubstr("rollout worker " + b_address + " joined"));
  nlohmann::json workers = nlohmann::json::parse(pt::ReadFile(Path("killed/workers.json")));
  int rollout = 0, reward_servers = 0;
  for (const nlohmann::json& w : workers.at("workers")) {
    rollout += w.at("role") == "rollout" ? 1 : 0;
    reward_servers += w.at("role") == "reward" ? 1 : 0;
    if (w.at("address") == b_address) {
      EXPECT_EQ(w.at("failures"), 1);
    }
  }
  EXPECT_EQ(rollout, 2);
  EXPECT_EQ(reward_servers, 1);
}

// Network namespaces T (trainer, reward), A and B (a worker each), veth pairs T-A and T-B.
class Namespaces {
 public:
  explicit Namespaces(const std::string& tag) : tag_(tag) {}
  ~Namespaces() {
    for (const std::string& ns : {Name("t"), Name("a"), Name("b")}) Run("ip netns del " + ns);
  }
  std::string Name(const std::string& role) const { return "ponder-" + tag_ + "-" + role; }
  std::vector<std::string> Exec(const std::string& role) const {
    return {"ip", "netns", "exec", Name(role)};
  }
  // Creates the namespaces and links; the error output when a command fails.
  std::string Create() {
    std::vector<std::string> commands;
    for (const char* role : {"t", "a", "b"}) {
      commands.push_back("ip netns add " + Name(role));
      commands.push_back("ip netns exec " + Name(role) + " ip link set lo up");
    }
    int net = 1;
    for (const char* role : {"a", "b"}) {
      const std::string here = absl::StrCat("t", role, "0"), there = absl::StrCat("t", role, "1");
      commands.push_back(absl::StrCat("ip netns exec ", Name("t"), " ip link add ", here,
                                      " type veth peer name ", there, " netns ", Name(role)));
      commands.push_back(absl::StrCat("ip netns exec ", Name("t"), " ip addr add 10.213.", net,
                                      ".1/24 dev ", here));
      commands.push_back(absl::StrCat("ip netns exec ", Name("t"), " ip link set ", here, " up"));
      commands.push_back(absl::StrCat("ip netns exec ", Name(role), " ip addr add 10.213.", net,
                                      ".2/24 dev ", there));
      commands.push_back(absl::StrCat("ip netns exec ", Name(role), " ip link set ", there, " up"));
      ++net;
    }
    for (const std::string& c : commands) {
      pt::CommandResult r = Run(c);
      if (r.exit_code != 0) return c + ": " + r.err;
    }
    return "";
  }
  // Takes B's end of its link down: packets to and from B vanish, no error is reported.
  pt::CommandResult CutB() { return Run("ip netns exec " + Name("b") + " ip link set tb1 down"); }

 private:
  static pt::CommandResult Run(const std::string& command) { return pt::RunCommand(command); }
  std::string tag_;
};

TEST_F(WorkerFailureTest, ACutLinkIsFoundByItsDeadlineAndItsWorkGoesToTheOtherWorker) {
  if (geteuid() != 0) PONDER_SKIP_OR_FAIL("network namespaces need root");
  Namespaces ns(std::to_string(getpid()));
  const std::string failed = ns.Create();
  ASSERT_TRUE(failed.empty()) << failed;
  pt::Process a, b, reward, train;
  ASSERT_TRUE(a.Start(RolloutArgs(ns.Exec("a"), "10.213.1.2:0"), Path("ns_a.log"), kTokens));
  ASSERT_TRUE(b.Start(RolloutArgs(ns.Exec("b"), "10.213.2.2:0"), Path("ns_b.log"), kTokens));
  ASSERT_TRUE(reward.Start(RewardArgs(ns.Exec("t")), Path("ns_reward.log"), kTokens));
  const std::string a_address = a.WaitForAddress(), b_address = b.WaitForAddress();
  const std::string reward_address = reward.WaitForAddress();
  ASSERT_EQ(a_address.rfind("10.213.1.2:", 0), 0u) << a.log();
  ASSERT_EQ(b_address.rfind("10.213.2.2:", 0), 0u) << b.log();
  ASSERT_FALSE(reward_address.empty()) << reward.log();
  ASSERT_TRUE(train.Start(TrainArgs(ns.Exec("t"), "cut", {a_address, b_address}, reward_address),
                          Path("ns_train.log"), kTokens));
  ASSERT_TRUE(WaitForSteps(train, "cut", 2)) << train.log();
  ASSERT_EQ(ns.CutB().exit_code, 0);

  ASSERT_EQ(pt::WaitExit(train.pid(), std::chrono::seconds(900)), 0) << train.log();
  ExpectEachTrajectoryOnce("cut");
  EXPECT_GE(pt::LastMetric(Path("cut"), "workers/rollout_failed"), 1);
  // Found by the deadline of its health probes (no connection error ever comes back).
  EXPECT_THAT(train.log(), HasSubstr("rollout worker " + b_address +
                                     " failed: missed 2 health checks in a row (each 1s"));
  EXPECT_EQ(pt::LastMetric(Path("cut"), "workers/rollout_alive"), 1);
}

}  // namespace
}  // namespace ponder
