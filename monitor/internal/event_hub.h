// Server-sent events for the dashboard: the poller publishes, each open /api/events stream
// waits for what it has not sent yet. Keeps the last few hundred events; a stream that falls
// further behind is told to reload.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace ponder::monitor::internal {

class EventHub {
 public:
  void Publish(const std::string& type, const nlohmann::json& data) {
    std::lock_guard<std::mutex> lock(mu_);
    ++seq_;
    events_.push_back(
        {seq_, absl::StrCat("id: ", seq_, "\nevent: ", type, "\ndata: ",
                            data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                            "\n\n")});
    if (events_.size() > kKept) events_.pop_front();
    cv_.notify_all();
  }

  // Everything after `*seq` as SSE text, waiting up to `timeout` for something; advances
  // `*seq`. Empty when nothing came or the hub is closed.
  std::string Next(uint64_t* seq, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_ || seq_ > *seq; });
    std::string out;
    if (closed_) return out;
    if (!events_.empty() && events_.front().seq > *seq + 1) {
      out = "event: reload\ndata: {}\n\n";  // missed some: the page fetches afresh
    }
    for (const Event& e : events_) {
      if (e.seq > *seq) out += e.text;
    }
    *seq = seq_;
    return out;
  }

  uint64_t seq() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seq_;
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  static constexpr size_t kKept = 512;
  struct Event {
    uint64_t seq;
    std::string text;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  uint64_t seq_ = 0;
  bool closed_ = false;
};

}  // namespace ponder::monitor::internal
