// A small cluster on this machine for the multi-process tests: `ponder rollout` and
// `ponder reward` processes (optionally inside a network namespace), the address each one
// prints, and the training run's directory read back.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/trainer/train_testing.h"

namespace ponder::testing {

// A background process; SIGKILLed (and reaped) when destroyed unless it has ended.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  ~Process() { Kill(SIGKILL); }

  // Starts `args` with stdout and stderr in `log`.
  bool Start(const std::vector<std::string>& args, const std::string& log,
             const std::vector<std::string>& env = {}) {
    log_ = log;
    pid_ = Spawn(args, log, env);
    return pid_ > 0;
  }

  // The HOST:PORT after "listening on " in its log, waiting up to `timeout`; empty when it
  // ended or never said.
  std::string WaitForAddress(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const std::string key = "listening on ";
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      const std::string text = ReadFile(log_);
      const size_t at = text.find(key);
      if (at != std::string::npos) {
        const size_t stop = text.find_first_of(" \n", at + key.size());
        if (stop != std::string::npos) return text.substr(at + key.size(), stop - at - key.size());
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
  }

  void Kill(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid() const { return pid_; }
  std::string log() const { return ReadFile(log_); }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// Every (prompt uid, sample index) in the run's samples files, with how often it appears.
inline std::map<std::pair<uint64_t, int64_t>, int> TrainedSamples(const std::string& run_dir,
                                                                  int64_t steps) {
  std::map<std::pair<uint64_t, int64_t>, int> out;
  for (int64_t step = 1; step <= steps; ++step) {
    for (const nlohmann::json& s :
         ReadJsonLines(absl::StrCat(run_dir, "/samples/step_", step, ".jsonl"))) {
      ++out[{s.at("prompt_uid").get<uint64_t>(), s.at("sample_index").get<int64_t>()}];
    }
  }
  return out;
}

// The last value of metric `name` in the run's metrics.jsonl (-1 when absent).
inline double LastMetric(const std::string& run_dir, const std::string& name) {
  double value = -1;
  for (const nlohmann::json& line : ReadJsonLines(run_dir + "/metrics.jsonl")) {
    if (line.at("metrics").contains(name)) value = line.at("metrics").at(name).get<double>();
  }
  return value;
}

// Complete lines in the run's metrics.jsonl (safe while the run writes it).
inline size_t MetricLines(const std::string& run_dir) {
  const std::string text = ReadFile(run_dir + "/metrics.jsonl");
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace ponder::testing
