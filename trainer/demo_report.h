// The figures of the built-in demo (`ponder demo`, cli/demo_command.cc): held-out evaluations
// read back from the phases' run directories while they run, and the summary printed at the
// end.
//
// The demo runs three ordinary jobs in subfolders of its run directory:
//   warmstart/  `ponder sft`: a short warm start on the task's demonstrations
//   rl/         `ponder train` from the warm start: RL with the verifier's reward
//   control/    `ponder sft` from the warm start: more SFT on the same demonstrations
// RL and the control run side by side, one core each, for the same wall time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "monitor/metrics.h"

namespace ponder::trainer {

// One line of a run's metrics.jsonl.
struct MetricsLine {
  int64_t step = 0;
  double wall_time = 0;  // unix seconds
  monitor::Metrics metrics;
};

// Follows a metrics.jsonl that a running job appends to: each Poll returns the lines completed
// since the previous one (none while the file does not exist yet). A line still being written
// waits for the next poll; a complete line that is not a metrics record is an error naming
// the file and line.
class MetricsFollower {
 public:
  explicit MetricsFollower(std::string path) : path_(std::move(path)) {}
  absl::StatusOr<std::vector<MetricsLine>> Poll();

 private:
  std::string path_;
  int64_t offset_ = 0;  // bytes consumed
  int64_t line_ = 0;    // lines consumed
};

// A held-out evaluation: `val/<set>/greedy_acc`, `mean@<k>` and `pass@<k>` of one line.
struct EvalPoint {
  int64_t step = 0;
  double wall_time = 0;
  double greedy = 0;
  double mean_at_k = 0;
  double pass_at_k = 0;
};

// The evaluation in `line`, when it holds one for `set` and `k`.
std::optional<EvalPoint> FindEval(const MetricsLine& line, const std::string& set, int64_t k);

struct DemoOutcome {
  std::string task;       // what was learned, in words
  std::string algorithm;  // algorithm.name of the RL phase
  int64_t k = 8;          // samples per prompt of mean@k / pass@k
  EvalPoint warm_start;   // the warm start (RL's evaluation before its first step)
  EvalPoint rl;           // RL's last evaluation
  EvalPoint control;      // the control's last evaluation
  int64_t rl_steps = 0;
  int64_t control_steps = 0;
  double warm_start_s = 0;    // the warm start's wall time
  double side_by_side_s = 0;  // RL and the control, each
  double total_s = 0;         // the whole demo (the build excluded)
  std::string run_dir;
};

// The closing report. Its last three lines are the control's figure, the wall time and
//   held-out accuracy: A% -> B%
// (mean@k of the warm start and of RL).
std::string DemoSummary(const DemoOutcome& outcome);

}  // namespace ponder::trainer
