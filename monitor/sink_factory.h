// The sinks of a run (monitor.sinks) behind one MetricsSink: the controller and SFT write
// through it and never know which sinks there are.
//
//   jsonl        metrics.jsonl and samples/ (the source of truth; always on)
//   tensorboard  an event file in the run directory (monitor/tensorboard_sink.h)
//   prometheus   the last step's metrics as gauges on /metrics (monitor/prometheus_sink.h)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "monitor/metrics.h"
#include "monitor/monitor_options.h"
#include "monitor/prometheus.h"

namespace ponder::monitor {

// Writes to every sink in order; an error of one does not stop the others, and the first error
// is returned.
class FanOutSink : public MetricsSink {
 public:
  explicit FanOutSink(std::vector<std::unique_ptr<MetricsSink>> sinks) : sinks_(std::move(sinks)) {}

  absl::Status Write(int64_t step, const Metrics& metrics) override;
  absl::Status WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) override;
  absl::Status WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) override;
  absl::Status WriteTokenDetails(int64_t step,
                                 const std::vector<TokenDetailRecord>& details) override;

 private:
  std::vector<std::unique_ptr<MetricsSink>> sinks_;
};

// The sinks `options.sinks` names, for the run directory `run_dir` (resume_step as in
// RunDirSink::Create). `registry` receives the prometheus sink's gauges; without one (no
// /metrics in this process) that sink is left out.
absl::StatusOr<std::unique_ptr<MetricsSink>> MakeMetricsSink(const MonitorOptions& options,
                                                             const std::string& run_dir,
                                                             int64_t resume_step = -1,
                                                             Registry* registry = nullptr);

}  // namespace ponder::monitor
