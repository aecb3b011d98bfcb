// The `monitor:` section of a job config: what the run directory records besides the metrics.
//
//   monitor:
//     max_samples_per_step: 256   # trajectories written to samples/step_<N>.jsonl (-1: all)
#pragma once

#include <cstdint>

#include "base/config.h"

namespace ponder::monitor {

struct MonitorOptions {
  int64_t max_samples_per_step = 256;

  void Bind(config::Binder& b) {
    b.Field("max_samples_per_step", max_samples_per_step).AtLeast(-1);
  }
};

}  // namespace ponder::monitor
