// `ponder train` as two data-parallel ranks (processes, Gloo over loopback) against one rank:
// the same weights after three steps; a rank killed or stopped mid-run ends the other within
// distributed.timeout_s with a message naming it; the job resumes from its checkpoint, exactly
// with the same number of ranks and within float tolerance with another. CTest runs this in a
// network namespace of its own (tests/netns_run.sh), so the rendezvous port is always free.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/safetensors.h"
#include "tests/testing.h"

extern char** environ;

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr int kPort = 29511;

class DistributedTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("ponder_dist_e2e_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Starts `ponder train ARGS` as rank `rank` of `world` (world 1: no rank variables).
  pid_t Start(int rank, int world, const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv = {pt::BinaryPath("cli/ponder"), "train"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string var = *e;
      if (var.rfind("RANK=", 0) != 0 && var.rfind("WORLD_SIZE=", 0) != 0) env.push_back(var);
    }
    if (world > 1) {
      env.push_back(absl::StrCat("RANK=", rank));
      env.push_back(absl::StrCat("WORLD_SIZE=", world));
      env.push_back("MASTER_ADDR=127.0.0.1");
      env.push_back(absl::StrCat("MASTER_PORT=", kPort));
    }
    std::vector<char*> c_argv, c_env;
    for (std::string& a : argv) c_argv.push_back(a.data());
    for (std::string& e : env) c_env.push_back(e.data());
    c_argv.push_back(nullptr);
    c_env.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }

  // Waits for `pid` at most `seconds`; its exit code, or -1 when it is still running.
  static int Wait(pid_t pid, double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // Runs a job on `world` ranks to the end; every rank must exit 0.
  void Train(int world, const std::string& name, std::vector<std::string> args) {
    std::vector<pid_t> pids;
    for (int r = 0; r < world; ++r) {
      pids.push_back(Start(r, world, args, Path(absl::StrCat(name, ".rank", r, ".log"))));
    }
    for (int r = 0; r < world; ++r) {
      const int code = Wait(pids[r], 300);
      if (code == -1) kill(pids[r], SIGKILL);
      EXPECT_EQ(code, 0) << name << " rank " << r << ":\n"
                         << pt::ReadFile(Path(absl::StrCat(name, ".rank", r, ".log")));
    }
  }

  std::vector<std::string> Job(const std::string& run, const std::vector<std::string>& more) {
    std::vector<std::string> args = {"--config",
                                     pt::SourcePath("configs/tiny.yaml"),
                                     "run.dir=" + Path(run),
                                     "run.threads=1",
                                     "eval.every=0",
                                     "eval.at_end=false",
                                     "checkpoint.keep=0",
                                     "distributed.timeout_s=10",
                                     "distributed.heartbeat_s=0.5"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  // The largest difference between two checkpoints' weights (of `part`: policy or critic).
  double MaxDifference(const std::string& a, const std::string& b, const std::string& part) {
    auto x = model::SafetensorsFile::Open(fs::path(a) / part / model::kSafetensorsFile);
    auto y = model::SafetensorsFile::Open(fs::path(b) / part / model::kSafetensorsFile);
    EXPECT_TRUE(x.ok() && y.ok()) << a << " / " << b;
    if (!x.ok() || !y.ok()) return INFINITY;
    EXPECT_EQ(x->tensors().size(), y->tensors().size());
    double worst = 0;
    for (const model::TensorData& t : x->tensors()) {
      const model::TensorData* u = y->Find(t.name);
      EXPECT_NE(u, nullptr) << t.name;
      if (u == nullptr || t.dtype != model::DType::kF32 || u->shape != t.shape) return INFINITY;
      const float* p = static_cast<const float*>(t.data);
      const float* q = static_cast<const float*>(u->data);
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      for (int64_t i = 0; i < n; ++i) {
        worst = std::max(worst, static_cast<double>(std::fabs(p[i] - q[i])));
      }
    }
    return worst;
  }

  // A metric of step `step` in a run's metrics.jsonl.
  double Metric(const std::string& run, int step, const std::string& name) {
    const std::vector<std::string> lines =
        absl::StrSplit(pt::ReadFile(Path(run + "/metrics.jsonl")), '\n', absl::SkipEmpty());
    for (const std::string& line : lines) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.at("step") == step) return j.at("metrics").value(name, NAN);
    }
    return NAN;
  }

  std::string Checkpoint(const std::string& run, int step) {
    return Path(absl::StrCat(run, "/checkpoints/step_", step));
  }

  fs::path dir_;
};

TEST_F(DistributedTrainTest, TwoRanksGiveTheWeightsOfOneRankWithTheSameGlobalBatch) {
  for (const std::string algorithm : {"grpo", "ppo"}) {
    SCOPED_TRACE(algorithm);
    // Three updates of 32 samples each; ppo: a critic too, and two mini-batches per step. The
    // untrained model earns no exact-match reward, and the gradients of an all-zero reward
    // are float noise that Adam turns into full-size steps; DAPO's overlong punishment on
    // its response lengths gives a signal from the first step. At this learning rate Adam's
    // normalisation of near-zero gradients (where one and two ranks round differently) moves
    // no weight by more than about 1e-6.
    std::vector<std::string> more = {"algorithm.name=" + algorithm,
                                     "trainer.steps=3",
                                     "trainer.lr=1e-4",
                                     "reward.overlong.enabled=true",
                                     "reward.overlong.max_length=8",
                                     "reward.overlong.cache_length=6",
                                     "checkpoint.every=0",
                                     "checkpoint.at_end=true"};
    if (algorithm == "ppo") more.push_back("trainer.ppo_mini_batch_size=4");
    Train(1, algorithm + "_one", Job(algorithm + "_one", more));
    Train(2, algorithm + "_two", Job(algorithm + "_two", more));
    if (HasFailure()) return;
    const std::string one = Checkpoint(algorithm + "_one", 3);
    const std::string two = Checkpoint(algorithm + "_two", 3);
    const double policy = MaxDifference(one, two, "policy");
    EXPECT_LE(policy, 1e-5);
    std::printf("%s: largest weight difference, one rank vs two, after 3 steps: policy %.3g",
                algorithm.c_str(), policy);
    if (algorithm == "ppo") {
      const double critic = MaxDifference(one, two, "critic");
      EXPECT_LE(critic, 1e-5);
      std::printf(", critic %.3g", critic);
    }
    std::printf("\n");
    // Rank 0 alone wrote the run directory; the metrics are the global batch's.
    const std::string log = pt::ReadFile(Path(algorithm + "_two.rank1.log"));
    EXPECT_THAT(log, HasSubstr("distributed: rank 1 (host"));
    EXPECT_FALSE(fs::exists(Path(algorithm + "_two/checkpoints/step_3.tmp")));
    const std::vector<std::string> lines = absl::StrSplit(
        pt::ReadFile(Path(algorithm + "_two/metrics.jsonl")), '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 3u);
    // The same batches: the rollouts of step 3 (from rank 0's weights) are the same tokens.
    EXPECT_EQ(Metric(algorithm + "_one", 3, "rollout/generated_tokens"),
              Metric(algorithm + "_two", 3, "rollout/generated_tokens"));
    EXPECT_NEAR(Metric(algorithm + "_one", 3, "actor/grad_norm"),
                Metric(algorithm + "_two", 3, "actor/grad_norm"),
                1e-5 * Metric(algorithm + "_one", 3, "actor/grad_norm"));
  }
}

TEST_F(DistributedTrainTest, AKilledRankEndsTheOtherAndTheJobResumesFromItsCheckpoint) {
  const std::vector<std::string> more = {"trainer.steps=6", "checkpoint.every=1"};
  // The run without failure, for the final weights.
  Train(2, "whole", Job("whole", more));
  if (HasFailure()) return;

  pid_t rank0 = Start(0, 2, Job("run", more), Path("run.rank0.log"));
  pid_t rank1 = Start(1, 2, Job("run", more), Path("run.rank1.log"));
  // Kill rank 1 once two steps are checkpointed.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!fs::exists(Checkpoint("run", 2)) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(Checkpoint("run", 2))) << pt::ReadFile(Path("run.rank0.log"));
  ASSERT_EQ(kill(rank1, SIGKILL), 0);
  const auto killed = Clock::now();
  EXPECT_EQ(Wait(rank1, 10), 128 + SIGKILL);
  const int code = Wait(rank0, 30);
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  if (code == -1) kill(rank0, SIGKILL);
  const std::string log = pt::ReadFile(Path("run.rank0.log"));
  EXPECT_EQ(code, 1) << log;
  EXPECT_LT(seconds, 10.0 + 3.0) << "distributed.timeout_s is 10";
  std::printf("rank 0 ended %.1f s after rank 1 was killed\n", seconds);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_THAT(log, HasSubstr(absl::StrCat("rank 1 (host ", host, ", pid ", rank1, ")")));
  EXPECT_THAT(log, HasSubstr("no heartbeat"));
  if (HasFailure()) return;

  // Resume: with two ranks exactly where the uninterrupted run ends; with one rank, within
  // floating-point tolerance (the gradients are summed in another order).
  fs::copy(Path("run"), Path("run_one"), fs::copy_options::recursive);
  Train(2, "resume", {"--resume", Path("run"), "distributed.timeout_s=10"});
  Train(1, "resume_one", {"--resume", Path("run_one")});
  if (HasFailure()) return;
  EXPECT_THAT(pt::ReadFile(Path("resume.rank1.log")), HasSubstr("resuming from"));
  EXPECT_EQ(MaxDifference(Checkpoint("whole", 6), Checkpoint("run", 6), "policy"), 0.0);
  const double other = MaxDifference(Checkpoint("whole", 6), Checkpoint("run_one", 6), "policy");
  EXPECT_LE(other, 1e-5);
  std::printf("resumed on one rank: largest weight difference after step 6: %.3g\n", other);
  const std::vector<std::string> lines =
      absl::StrSplit(pt::ReadFile(Path("run/metrics.jsonl")), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 6u);
}

TEST_F(DistributedTrainTest, AStoppedRankEndsTheOtherWithinTheTimeout) {
  pid_t rank0 = Start(0, 2, Job("run", {"trainer.steps=50"}), Path("run.rank0.log"));
  pid_t rank1 = Start(1, 2, Job("run", {"trainer.steps=50"}), Path("run.rank1.log"));
  // Stop rank 1 (as a hung process would be) once the job runs.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (pt::ReadFile(Path("run.rank0.log")).find("step 2/50") == std::string::npos &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_THAT(pt::ReadFile(Path("run.rank0.log")), HasSubstr("step 2/50"));
  ASSERT_EQ(kill(rank1, SIGSTOP), 0);
  const auto stopped = Clock::now();
  const int code = Wait(rank0, 40);
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
  kill(rank1, SIGKILL);
  Wait(rank1, 10);
  if (code == -1) kill(rank0, SIGKILL);
  const std::string log = pt::ReadFile(Path("run.rank0.log"));
  EXPECT_EQ(code, 1) << log;
  EXPECT_LT(seconds, 10.0 + 3.0) << "distributed.timeout_s is 10";
  std::printf("rank 0 ended %.1f s after rank 1 was stopped\n", seconds);
  EXPECT_THAT(log, HasSubstr(absl::StrCat(", pid ", rank1, ") has sent no heartbeat")));
}

}  // namespace
}  // namespace ponder::trainer
