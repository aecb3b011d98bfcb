// SIGINT and SIGTERM as a stop request for a long job (`ponder train`, `ponder sft`): the
// first signal sets a flag that the job checks between steps (it then stops and keeps its
// work); a second one ends the process at once.
#pragma once

#include <signal.h>

#include <atomic>
#include <string>

namespace ponder::cli {

class StopOnSignal {
 public:
  // Installs the handlers; `message` is written to stderr on the first signal.
  explicit StopOnSignal(const std::string& message);
  ~StopOnSignal();  // restores the previous handlers
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  // Set once a signal arrived.
  const std::atomic<bool>* flag() const;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

}  // namespace ponder::cli
