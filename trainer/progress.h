// The progress lines `ponder train` prints to stderr: one per step and one per evaluation.
//
//   step 12/200 | reward 0.431 | acc 0.406 | len 37.5 | 1.84 s/step | ETA 5:43
//   eval  step 12 | mean@4 0.412 | pass@4 0.650 | greedy_acc 0.450
#pragma once

#include <chrono>
#include <cstdint>

#include "monitor/metrics.h"

namespace ponder::trainer {

class ProgressPrinter {
 public:
  // `total` steps in the run, of which `first_step` were done before it started (a resumed
  // run); prints nothing unless `enabled`.
  ProgressPrinter(bool enabled, int64_t total, int64_t first_step);

  // The line of completed step `step` (from 1) with its metrics; the ETA assumes the
  // remaining steps take as long as the average step of this process so far.
  void Step(int64_t step, const monitor::Metrics& metrics) const;
  // The line of the evaluation after step `step`: the metrics with "@" or "greedy_acc".
  void Eval(int64_t step, const monitor::Metrics& metrics) const;

 private:
  bool enabled_;
  int64_t total_;
  int64_t first_step_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace ponder::trainer
