#include "cli/drain.h"

#include <cerrno>
#include <cmath>
#include <iostream>

namespace ponder::cli {

int WaitForStop(const sigset_t& signals, double drain_s, const std::string& who,
                const std::function<void(bool serving)>& set_serving) {
  int signal = 0;
  sigwait(&signals, &signal);
  set_serving(false);
  if (drain_s > 0) {
    std::cerr << who << ": not serving (signal " << signal << "); stopping in " << drain_s
              << " s, or at the next signal" << std::endl;
    timespec wait;
    wait.tv_sec = static_cast<time_t>(std::floor(drain_s));
    wait.tv_nsec = static_cast<long>((drain_s - std::floor(drain_s)) * 1e9);
    // EINTR: another signal (not ours) interrupted the wait; stop anyway.
    sigtimedwait(&signals, nullptr, &wait);
  }
  return signal;
}

}  // namespace ponder::cli
