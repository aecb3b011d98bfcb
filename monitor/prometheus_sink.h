// monitor.sinks: prometheus. The last step's metrics as gauges on the process's /metrics
// (ponder_train_step, ponder_train_metric{name}), for alerts on a running job; the curves
// themselves stay in metrics.jsonl.
#pragma once

#include "monitor/metrics.h"
#include "monitor/prometheus.h"

namespace ponder::monitor {

class PrometheusSink : public MetricsSink {
 public:
  // `registry` must outlive the sink.
  explicit PrometheusSink(Registry* registry);

  absl::Status Write(int64_t step, const Metrics& metrics) override;
  absl::Status WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) override;
  absl::Status WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) override;

 private:
  Family<Gauge>& step_;
  Family<Gauge>& metric_;
  Family<Counter>& samples_;
};

}  // namespace ponder::monitor
