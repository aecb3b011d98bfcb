// Shared by the tests that run `ponder train` (tests/trainer, tests/e2e): the binary and the
// tiny config, run directories read back, and processes started in the background.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing.h"

extern char** environ;

namespace ponder::testing {

inline std::string Ponder() { return BinaryPath("cli/ponder"); }
inline std::string TinyConfig() { return SourcePath("configs/tiny.yaml"); }

inline std::vector<nlohmann::json> ReadJsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// The metrics lines of a run, keyed by step, with the entries that depend on the clock
// (timing/*, perf/*, wall_time) removed. Lines of one step (training, evaluation) are merged.
inline std::map<int64_t, nlohmann::json> DeterministicMetrics(const std::string& run_dir) {
  std::map<int64_t, nlohmann::json> out;
  for (const nlohmann::json& line : ReadJsonLines(run_dir + "/metrics.jsonl")) {
    nlohmann::json& merged = out[line.at("step").get<int64_t>()];
    for (const auto& [name, value] : line.at("metrics").items()) {
      if (absl::StartsWith(name, "timing/") || absl::StartsWith(name, "perf/")) continue;
      merged[name] = value;
    }
  }
  return out;
}

// Starts `args` in the background with stdout and stderr in `log_path` and `env` ("K=V")
// added to the environment; -1 when it cannot start.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path,
                   const std::vector<std::string>& env = {}) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// `ponder train --config configs/tiny.yaml run.dir=RUN_DIR` plus space-separated overrides.
inline std::vector<std::string> TrainArgs(const std::string& run_dir,
                                          const std::string& overrides) {
  std::vector<std::string> args = {Ponder(), "train", "--config", TinyConfig(),
                                   "run.dir=" + run_dir};
  for (absl::string_view o : absl::StrSplit(overrides, ' ', absl::SkipEmpty())) {
    args.emplace_back(std::string(o));
  }
  return args;
}

// Waits up to `timeout` for `pid` to exit; its exit code (128 + signal when killed), or -1
// when it is still running.
inline int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// A fresh directory per test, removed afterwards, and `ponder train` runs in it.
class TrainRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/ponder_train_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  std::string Path(const std::string& name) const {
    return (std::filesystem::path(root_) / name).string();
  }

  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name), std::ios::binary) << text;
  }

  // `ponder train --config configs/tiny.yaml run.dir=ROOT/<run> <overrides>`.
  CommandResult Train(const std::string& run, const std::string& overrides,
                      const std::string& config = TinyConfig()) const {
    return RunCommand(
        absl::StrCat(Ponder(), " train --config ", config, " run.dir=", Path(run), " ", overrides));
  }

  std::string root_;
};

}  // namespace ponder::testing
