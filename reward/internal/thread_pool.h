// A fixed-size worker pool that can temporarily grow: when a task is abandoned (its item timed
// out but its verifier is still running), AddReplacementWorker keeps the pool's capacity, and
// when the abandoned task finally returns, ReplacementDone lets one worker retire.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace ponder::reward::internal {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads, size_t max_extra = 64);
  // Runs every queued task, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  // One running task was abandoned: add a worker (up to `max_extra` above the target size).
  void AddReplacementWorker();
  // An abandoned task has returned: one worker may retire.
  void ReplacementDone();
  size_t target_size() const { return target_; }

 private:
  void SpawnLocked();
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::list<std::thread> threads_;
  std::list<std::thread::id> finished_;  // workers that retired, to be joined
  const size_t target_;
  const size_t max_extra_;
  size_t live_ = 0;
  // Abandoned tasks still running; may dip below zero for a moment when a task returns before
  // its replacement was asked for.
  int64_t extra_ = 0;
  size_t Allowed() const;  // target_ plus the replacements in use
  bool stopping_ = false;
};

}  // namespace ponder::reward::internal
