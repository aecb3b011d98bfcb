// RankGroup's watchdog: heartbeats through the store, and the verdict that names a rank that
// died, hangs or is cut off (trainer/distributed.h).
#include <spdlog/spdlog.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "trainer/internal/rank_group.h"

namespace ponder::trainer {
using internal::Bytes;
using internal::Clock;
using internal::ErrorText;
using internal::HeartbeatKey;
using internal::kAbortKey;
using internal::Millis;
using internal::SecondsSince;
using internal::Text;

void RankGroup::Impl::WatchdogLoop() {
  const double heartbeat_s = opts.options.heartbeat_s;
  // Rank 0 watches every rank; the others watch rank 0, and every rank reads the abort key.
  std::vector<int64_t> watched;
  if (rank == 0) {
    for (int64_t r = 1; r < size; ++r) watched.push_back(r);
  } else {
    watched.push_back(0);
  }
  std::vector<std::string> last(size);
  std::vector<Clock::time_point> changed(size, Clock::now());
  int64_t beat = 0;
  while (true) {
    bool in_trouble = false, aborting = false;
    {
      std::unique_lock<std::mutex> lock(mu);
      if (cv.wait_for(lock, Millis(heartbeat_s), [this] { return stopping; })) return;
      in_trouble = trouble;
      aborting = aborted;
    }
    try {
      ++beat;
      watch_store->set(HeartbeatKey(rank),
                       Bytes(absl::StrCat(beat, " ", collectives.load(), " ", Current())));
      for (int64_t r : watched) {
        std::string value = Text(watch_store->get(HeartbeatKey(r)));
        if (value != last[r]) {
          last[r] = std::move(value);
          changed[r] = Clock::now();
        }
      }
      if (!aborting && watch_store->check({kAbortKey})) {
        DeclareLost(Text(watch_store->get(kAbortKey)));
        return;
      }
      // After a failed collective a dead rank is found in a few heartbeats; otherwise a rank
      // may be busy (rank 0 generating rollouts) for up to timeout_s.
      const double limit =
          in_trouble ? std::min(opts.options.timeout_s, 3 * heartbeat_s) : opts.options.timeout_s;
      for (int64_t r : watched) {
        const double silent = SecondsSince(changed[r]);
        if (silent > limit) {
          const std::string message = absl::StrFormat(
              "%s has sent no heartbeat for %.1f s (distributed.timeout_s = %g): it died, "
              "hangs or is cut off",
              Describe(r), silent, opts.options.timeout_s);
          if (rank == 0) watch_store->set(kAbortKey, Bytes(message));
          DeclareLost(message);
          return;
        }
      }
    } catch (const std::exception& e) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (finishing || stopping) return;
      }
      DeclareLost(rank == 0 ? absl::StrCat(Describe(0), ": the store it serves at ", Endpoint(),
                                           " failed: ", ErrorText(e))
                            : absl::StrCat("lost contact with ", Describe(0),
                                           ": the rendezvous store it serves at ", Endpoint(),
                                           " stopped answering (", ErrorText(e), ")"));
      return;
    }
  }
}

void RankGroup::Impl::DeclareLost(const std::string& message) {
  absl::Status status = absl::UnavailableError(message);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!lost.ok()) return;
    lost = status;
  }
  cv.notify_all();
  if (opts.on_lost) {
    opts.on_lost(status);
    return;
  }
  spdlog::error("distributed: {}", message);
  // The main thread gets the same message from the collective it is in (and ends the
  // process); if it is busy elsewhere (rank 0 generating rollouts), end the job from here.
  std::unique_lock<std::mutex> lock(mu);
  if (cv.wait_for(lock, Millis(std::min(opts.options.timeout_s, 5.0)),
                  [this] { return stopping; })) {
    return;
  }
  std::fprintf(stderr, "ponder: %s; ending the job on %s\n", message.c_str(),
               Describe(rank).c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

// What every rank was doing, from their last heartbeats.
std::string RankGroup::Impl::Progress() {
  std::string out;
  for (int64_t r = 0; r < size; ++r) {
    std::string state;
    try {
      state = Text(store->get(HeartbeatKey(r)));
    } catch (const std::exception& e) {
      state = absl::StrCat("unknown (", ErrorText(e), ")");
    }
    // "<beat> <collectives> <what>"
    const size_t a = state.find(' ');
    const size_t b = a == std::string::npos ? a : state.find(' ', a + 1);
    if (b != std::string::npos) {
      state = absl::StrCat("in collective #", state.substr(a + 1, b - a - 1), " (",
                           state.substr(b + 1), ")");
    }
    absl::StrAppend(&out, r == 0 ? "" : "; ", Describe(r), " ", state);
  }
  return out;
}
absl::Status RankGroup::Impl::Failed(const std::string& what, const std::string& error) {
  {
    std::unique_lock<std::mutex> lock(mu);
    trouble = true;
    // The watchdog names a dead rank within three heartbeats of silence.
    cv.wait_for(lock, Millis(4 * opts.options.heartbeat_s + 1.0), [this] { return !lost.ok(); });
    if (!lost.ok()) {
      return absl::UnavailableError(
          absl::StrCat(lost.message(), " (", Describe(rank), " was in: ", what, ")"));
    }
  }
  return absl::UnavailableError(
      absl::StrCat(what, " failed on ", Describe(rank), ": ", error, ". Ranks: ", Progress()));
}

}  // namespace ponder::trainer
