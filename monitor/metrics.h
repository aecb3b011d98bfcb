// Metrics and samples of a run (DESIGN.md §4 MetricsSink, §6 metric names).
//
// A step's metrics are a flat map from verl-style names ("reward/score/mean") to numbers; the
// run directory keeps them as one JSON line per step in metrics.jsonl and the step's sampled
// trajectories (monitor/sample_record.h) in samples/step_<N>.jsonl.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "monitor/sample_record.h"
#include "monitor/token_detail.h"

namespace ponder::monitor {

// Ordered so that files list the names in a stable order.
using Metrics = std::map<std::string, double>;

// Adds `<prefix>/mean`, `<prefix>/max` and `<prefix>/min` of `values` (nothing when empty).
void AddSummary(Metrics& metrics, const std::string& prefix, const std::vector<double>& values);
// Adds `<prefix>/mean` and `<prefix>/std` (population std) of `values` (nothing when empty).
void AddMeanStd(Metrics& metrics, const std::string& prefix, const std::vector<double>& values);

// Where a run's metrics and samples go. The controller and SFT hold one of these, never a
// concrete sink.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // The metrics of step `step` (training and evaluation metrics of one step come separately).
  virtual absl::Status Write(int64_t step, const Metrics& metrics) = 0;
  // The training samples of step `step`.
  virtual absl::Status WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) = 0;
  // The samples of the evaluation after step `step` (0: before training).
  virtual absl::Status WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) = 0;
  // Per-token detail of some training samples of step `step` (monitor.token_details); a sink
  // with no place for it ignores it.
  virtual absl::Status WriteTokenDetails(int64_t step,
                                         const std::vector<TokenDetailRecord>& details) {
    return absl::OkStatus();
  }
};

// Writes `<dir>/metrics.jsonl` (one `{"step": N, "wall_time": unix seconds, "metrics": {...}}`
// line per step, flushed at once), `<dir>/samples/step_<N>.jsonl`,
// `<dir>/samples/eval_step_<N>.jsonl` (one sample per line) and
// `<dir>/samples/step_<N>_tokens.jsonl` (monitor/token_detail.h).
class RunDirSink : public MetricsSink {
 public:
  // Creates the directories. A fresh run (`resume_step` < 0) starts an empty metrics.jsonl;
  // with `resume_step` >= 0, lines of metrics.jsonl after that step (written by a run that
  // died before its next checkpoint) are dropped, so the file holds each step once.
  static absl::StatusOr<std::unique_ptr<RunDirSink>> Create(const std::string& dir,
                                                            int64_t resume_step = -1);

  absl::Status Write(int64_t step, const Metrics& metrics) override;
  absl::Status WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) override;
  absl::Status WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) override;
  absl::Status WriteTokenDetails(int64_t step,
                                 const std::vector<TokenDetailRecord>& details) override;

  const std::string& dir() const { return dir_; }

 private:
  explicit RunDirSink(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Reads metrics.jsonl back: step -> metrics. A malformed line is an error naming file and line.
absl::StatusOr<std::map<int64_t, Metrics>> ReadMetricsFile(const std::string& path);

}  // namespace ponder::monitor
