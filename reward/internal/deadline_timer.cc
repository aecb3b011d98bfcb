#include "reward/internal/deadline_timer.h"

#include <chrono>

#include "absl/time/clock.h"

namespace ponder::reward::internal {

DeadlineTimer::DeadlineTimer() : thread_([this] { Run(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t DeadlineTimer::At(absl::Time when, std::function<void()> callback) {
  uint64_t id;
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    pending_.emplace(std::make_pair(when, id), std::move(callback));
    when_[id] = when;
    earliest = pending_.begin()->first.second == id;
  }
  if (earliest) cv_.notify_all();
  return id;
}

void DeadlineTimer::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = when_.find(id);
  if (it == when_.end()) return;
  pending_.erase(std::make_pair(it->second, id));
  when_.erase(it);
}

void DeadlineTimer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (pending_.empty()) {
      cv_.wait(lock);
      continue;
    }
    absl::Time next = pending_.begin()->first.first;
    absl::Time now = absl::Now();
    if (next > now) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(next - now));
      continue;
    }
    auto it = pending_.begin();
    std::function<void()> callback = std::move(it->second);
    when_.erase(it->first.second);
    pending_.erase(it);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace ponder::reward::internal
