// How `ponder rollout` and `ponder reward` stop: on the first SIGINT or SIGTERM the health
// service answers NOT_SERVING, so that a trainer's pool (rollout/worker_pool.h) and load
// balancers send no more work while calls in flight go on; after `drain_s` seconds, or at a
// second signal, the server stops.
#pragma once

#include <signal.h>

#include <functional>
#include <string>

namespace ponder::cli {

// Waits for one of `signals` (blocked in every thread), marks the server NOT_SERVING with
// `set_serving(false)` and waits up to `drain_s` for another, telling stderr as `who`.
// Returns the first signal's number.
int WaitForStop(const sigset_t& signals, double drain_s, const std::string& who,
                const std::function<void(bool serving)>& set_serving);

}  // namespace ponder::cli
