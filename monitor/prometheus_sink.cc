#include "monitor/prometheus_sink.h"

namespace ponder::monitor {

PrometheusSink::PrometheusSink(Registry* registry)
    : step_(registry->AddGauge("ponder_train_step", "The last completed training step.")),
      metric_(registry->AddGauge("ponder_train_metric",
                                 "Each metric of the last step that wrote it (metrics.jsonl "
                                 "holds the curves).",
                                 {"name"})),
      samples_(registry->AddCounter("ponder_train_samples_total",
                                    "Samples written to the run directory, by kind.", {"kind"})) {}

absl::Status PrometheusSink::Write(int64_t step, const Metrics& metrics) {
  step_.Labels({}).Set(static_cast<double>(step));
  for (const auto& [name, value] : metrics) metric_.Labels({name}).Set(value);
  return absl::OkStatus();
}

absl::Status PrometheusSink::WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  samples_.Labels({"train"}).Inc(static_cast<double>(samples.size()));
  return absl::OkStatus();
}

absl::Status PrometheusSink::WriteEvalSamples(int64_t step,
                                              const std::vector<SampleRecord>& samples) {
  samples_.Labels({"eval"}).Inc(static_cast<double>(samples.size()));
  return absl::OkStatus();
}

}  // namespace ponder::monitor
