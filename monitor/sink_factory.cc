#include "monitor/sink_factory.h"

#include "base/status.h"
#include "monitor/prometheus_sink.h"
#include "monitor/tensorboard_sink.h"

namespace ponder::monitor {

absl::Status FanOutSink::Write(int64_t step, const Metrics& metrics) {
  absl::Status first;
  for (auto& sink : sinks_) first.Update(sink->Write(step, metrics));
  return first;
}

absl::Status FanOutSink::WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  absl::Status first;
  for (auto& sink : sinks_) first.Update(sink->WriteSamples(step, samples));
  return first;
}

absl::Status FanOutSink::WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  absl::Status first;
  for (auto& sink : sinks_) first.Update(sink->WriteEvalSamples(step, samples));
  return first;
}

absl::Status FanOutSink::WriteTokenDetails(int64_t step,
                                           const std::vector<TokenDetailRecord>& details) {
  absl::Status first;
  for (auto& sink : sinks_) first.Update(sink->WriteTokenDetails(step, details));
  return first;
}

absl::StatusOr<std::unique_ptr<MetricsSink>> MakeMetricsSink(const MonitorOptions& options,
                                                             const std::string& run_dir,
                                                             int64_t resume_step,
                                                             Registry* registry) {
  std::vector<std::unique_ptr<MetricsSink>> sinks;
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<RunDirSink> jsonl,
                          RunDirSink::Create(run_dir, resume_step));
  sinks.push_back(std::move(jsonl));
  for (const std::string& name : options.sinks) {
    if (name == "tensorboard") {
      PONDER_ASSIGN_OR_RETURN(std::unique_ptr<TensorBoardSink> tensorboard,
                              TensorBoardSink::Create(run_dir, options.tensorboard_samples));
      sinks.push_back(std::move(tensorboard));
    } else if (name == "prometheus" && registry != nullptr) {
      sinks.push_back(std::make_unique<PrometheusSink>(registry));
    }
  }
  return std::unique_ptr<MetricsSink>(new FanOutSink(std::move(sinks)));
}

}  // namespace ponder::monitor
