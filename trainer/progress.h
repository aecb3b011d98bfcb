// The progress lines `ponder train` prints to stderr: one per step and one per evaluation.
//
//   step 12/200 | reward 0.431 | acc 0.406 | len 37.5 | 1.84 s/step | ETA 5:43
//   eval  step 12 | mean@4 0.412 | pass@4 0.650 | greedy_acc 0.450
// and, at the end, a summary:
//   done: 200 steps in 6:08 (1.84 s/step) | reward 0.031 -> 0.431 | acc 0.016 -> 0.406 |
//   eval step 200: mean@4 0.412 pass@4 0.650
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "monitor/metrics.h"

namespace ponder::trainer {

class ProgressPrinter {
 public:
  // `total` steps in the run, of which `first_step` were done before it started (a resumed
  // run); prints nothing unless `enabled`.
  ProgressPrinter(bool enabled, int64_t total, int64_t first_step);

  // The line of completed step `step` (from 1) with its metrics; the ETA assumes the
  // remaining steps take as long as the average step of this process so far.
  void Step(int64_t step, const monitor::Metrics& metrics);
  // The line of the evaluation after step `step`: the metrics with "@" or "greedy_acc".
  void Eval(int64_t step, const monitor::Metrics& metrics);
  // Prints SummaryLine().
  void Summary() const;
  // The steps this process ran and their time, reward and accuracy of its first and last
  // step, and the last evaluation.
  std::string SummaryLine() const;

 private:
  bool enabled_;
  int64_t total_;
  int64_t first_step_;
  std::chrono::steady_clock::time_point started_;
  int64_t last_step_ = -1;
  monitor::Metrics first_, last_, last_eval_;
  int64_t last_eval_step_ = -1;
};

}  // namespace ponder::trainer
