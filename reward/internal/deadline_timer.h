// Runs callbacks at deadlines on one background thread; a pending callback can be cancelled.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/time/time.h"

namespace ponder::reward::internal {

class DeadlineTimer {
 public:
  DeadlineTimer();
  ~DeadlineTimer();  // pending callbacks are dropped
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Schedules `callback` at `when`; returns an id for Cancel.
  uint64_t At(absl::Time when, std::function<void()> callback);
  void Cancel(uint64_t id);

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> pending_;
  std::map<uint64_t, absl::Time> when_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ponder::reward::internal
