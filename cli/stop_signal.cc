#include "cli/stop_signal.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>

namespace ponder::cli {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
char g_message[256] = {};
size_t g_message_size = 0;

void OnStopSignal(int signal) {
  if (g_stop.exchange(true)) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  ssize_t ignored = write(STDERR_FILENO, g_message, g_message_size);
  (void)ignored;
}

}  // namespace

StopOnSignal::StopOnSignal(const std::string& message) {
  g_stop = false;
  g_message_size = std::min(message.size(), sizeof(g_message) - 1);
  std::memcpy(g_message, message.data(), g_message_size);
  // A handler (not a blocked-signal waiter) so that the signal is caught whichever thread it
  // lands on.
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

const std::atomic<bool>* StopOnSignal::flag() const { return &g_stop; }

}  // namespace ponder::cli
