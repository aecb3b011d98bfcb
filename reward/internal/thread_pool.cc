#include "reward/internal/thread_pool.h"

#include <algorithm>

namespace ponder::reward::internal {

ThreadPool::ThreadPool(size_t threads, size_t max_extra)
    : target_(std::max<size_t>(1, threads)), max_extra_(max_extra) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < target_; ++i) SpawnLocked();
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ThreadPool::SpawnLocked() {
  // Join workers that have retired before starting another.
  for (const std::thread::id& id : finished_) {
    for (auto it = threads_.begin(); it != threads_.end(); ++it) {
      if (it->get_id() == id) {
        it->join();
        threads_.erase(it);
        break;
      }
    }
  }
  finished_.clear();
  ++live_;
  threads_.emplace_back([this] { Work(); });
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

size_t ThreadPool::Allowed() const {
  return target_ + std::min(static_cast<size_t>(std::max<int64_t>(0, extra_)), max_extra_);
}

void ThreadPool::AddReplacementWorker() {
  std::lock_guard<std::mutex> lock(mu_);
  ++extra_;
  if (stopping_ || live_ >= Allowed()) return;
  SpawnLocked();
}

void ThreadPool::ReplacementDone() {
  std::lock_guard<std::mutex> lock(mu_);
  --extra_;
}

void ThreadPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, nothing left
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    lock.lock();
    // A replacement worker is no longer needed once the task it stood in for has returned.
    if (live_ > Allowed() && !stopping_) break;
  }
  --live_;
  if (!stopping_) finished_.push_back(std::this_thread::get_id());
}

}  // namespace ponder::reward::internal
