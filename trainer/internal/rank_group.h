// The inside of RankGroup (trainer/distributed.h), shared by its two source files:
// distributed.cc (joining, collectives) and rank_watchdog.cc (heartbeats, verdicts).
#pragma once

// LibTorch's c10d headers guard each backend with the macro its own build defined (Torch's
// CMake config passes it on; a build without it would not find the Gloo group).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef PONDER_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status.h"
#include "trainer/distributed.h"

namespace ponder::trainer {
namespace internal {

using Clock = std::chrono::steady_clock;

inline std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

inline double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// LibTorch's errors carry a C++ backtrace in what(); messages keep only the text.
inline std::string ErrorText(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

inline std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
inline std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

inline std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

inline bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

inline std::string HeartbeatKey(int64_t rank) { return absl::StrCat("heartbeat/", rank); }

inline constexpr char kAbortKey[] = "abort";

}  // namespace internal

struct RankGroup::Pending::Work {
  std::string what;
  c10::intrusive_ptr<c10d::Work> work;
};

class RankGroup::Impl {
 public:
  explicit Impl(const RankGroupOptions& options)
      : opts(options),
        rank(options.env.rank),
        size(options.env.world_size),
        timeout(internal::Millis(options.options.timeout_s)) {}

  ~Impl() {
    StopWatchdog();
    // After a failure the process group is abandoned, not destroyed: its destructor waits for
    // work still queued on a peer that may never answer. The process is about to end.
    std::lock_guard<std::mutex> lock(mu);
    if (trouble || !lost.ok()) {
      (void)gloo.release();
#ifdef PONDER_WITH_NCCL
      (void)nccl.release();
#endif
    }
  }

  absl::Status Join();
  absl::Status MeetAtStore();
  absl::Status CreateGroup();
  absl::Status Run(const std::string& what,
                   const std::function<c10::intrusive_ptr<c10d::Work>()>& start);
  absl::Status Failed(const std::string& what, const std::string& error);
  absl::Status Flat(std::vector<at::Tensor>& tensors, const std::string& what,
                    const std::function<absl::Status(at::Tensor&)>& collective);
  absl::Status Lost() const {
    std::lock_guard<std::mutex> lock(mu);
    return lost;
  }
  void Enter(const std::string& what) {
    ++collectives;
    std::lock_guard<std::mutex> lock(mu);
    current = what;
  }
  std::string Current() const {
    std::lock_guard<std::mutex> lock(mu);
    return current;
  }
  std::string Describe(int64_t r) const {
    return absl::StrCat("rank ", r, " (", r < static_cast<int64_t>(peers.size()) ? peers[r] : "?",
                        ")");
  }
  std::string Endpoint() const {
    return absl::StrCat(opts.env.master_addr, ":", opts.env.master_port);
  }
  at::Device device() const {
    return backend == "nccl" ? at::Device(at::kCUDA, static_cast<int>(opts.env.local_rank))
                             : at::Device(at::kCPU);
  }
  template <typename F>
  c10::intrusive_ptr<c10d::Work> WithGroup(F&& f) {
#ifdef PONDER_WITH_NCCL
    if (nccl) return f(*nccl);
#endif
    return f(*gloo);
  }

  void WatchdogLoop();
  void DeclareLost(const std::string& message);
  void StopWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }
  std::string Progress();

  RankGroupOptions opts;
  int64_t rank;
  int64_t size;
  std::chrono::milliseconds timeout;
  std::string backend = "gloo";
  std::vector<std::string> peers;               // "host node7, pid 4242" per rank
  c10::intrusive_ptr<c10d::Store> store;        // the main thread's connection
  c10::intrusive_ptr<c10d::Store> watch_store;  // the watchdog's own connection
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef PONDER_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  std::atomic<int64_t> collectives{0};
  int64_t broadcasts = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::string current = "start";  // the collective this rank is in, for heartbeats
  absl::Status lost;
  bool trouble = false;    // a collective failed: wait only a few heartbeats for a verdict
  bool finishing = false;  // after Finish's barrier rank 0 may go away
  bool aborted = false;    // this rank set the abort key
  bool stopping = false;
  std::thread watchdog;
};

}  // namespace ponder::trainer
