// monitor.sinks: tensorboard. Each step's metrics as TensorBoard scalars, and the first few
// samples of each step as a Markdown text summary (tag "samples"), in an event file in the run
// directory (`tensorboard --logdir runs/` shows every run).
#pragma once

#include <memory>
#include <string>

#include "monitor/metrics.h"
#include "monitor/tensorboard.h"

namespace ponder::monitor {

class TensorBoardSink : public MetricsSink {
 public:
  // `samples_per_step`: how many of a step's samples go into its text summary (0: none).
  static absl::StatusOr<std::unique_ptr<TensorBoardSink>> Create(const std::string& run_dir,
                                                                 int64_t samples_per_step);

  absl::Status Write(int64_t step, const Metrics& metrics) override;
  absl::Status WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) override;
  // Evaluation samples go to the text summary "eval_samples".
  absl::Status WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) override;

 private:
  TensorBoardSink(std::unique_ptr<TensorBoardWriter> writer, int64_t samples_per_step)
      : writer_(std::move(writer)), samples_per_step_(samples_per_step) {}
  std::unique_ptr<TensorBoardWriter> writer_;
  int64_t samples_per_step_;
};

// The Markdown of a step's text summary: each sample's outcome, prompt and response (as
// indented code blocks, so that any text shows verbatim).
std::string SamplesMarkdown(int64_t step, const std::vector<SampleRecord>& samples, size_t count);

}  // namespace ponder::monitor
