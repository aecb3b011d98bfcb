#include "monitor/tensorboard_sink.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "base/status.h"

namespace ponder::monitor {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Indented(const std::string& text) {
  return "    " + absl::StrReplaceAll(text, {{"\n", "\n    "}});
}

}  // namespace

absl::StatusOr<std::unique_ptr<TensorBoardSink>> TensorBoardSink::Create(const std::string& run_dir,
                                                                         int64_t samples_per_step) {
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<TensorBoardWriter> writer,
                          TensorBoardWriter::Create(run_dir));
  return std::unique_ptr<TensorBoardSink>(new TensorBoardSink(std::move(writer), samples_per_step));
}

absl::Status TensorBoardSink::Write(int64_t step, const Metrics& metrics) {
  return writer_->WriteScalars(step, Now(), metrics);
}

absl::Status TensorBoardSink::WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  if (samples_per_step_ <= 0 || samples.empty()) return absl::OkStatus();
  return writer_->WriteText(step, Now(), "samples",
                            SamplesMarkdown(step, samples, static_cast<size_t>(samples_per_step_)));
}

absl::Status TensorBoardSink::WriteEvalSamples(int64_t step,
                                               const std::vector<SampleRecord>& samples) {
  if (samples_per_step_ <= 0 || samples.empty()) return absl::OkStatus();
  return writer_->WriteText(step, Now(), "eval_samples",
                            SamplesMarkdown(step, samples, static_cast<size_t>(samples_per_step_)));
}

std::string SamplesMarkdown(int64_t step, const std::vector<SampleRecord>& samples, size_t count) {
  std::string out;
  for (size_t i = 0; i < samples.size() && i < count; ++i) {
    const SampleRecord& s = samples[i];
    std::string outcome = absl::StrCat("**step ", step, ", sample ", i, "**");
    if (s.error.empty()) {
      absl::StrAppend(&outcome, ": reward ", absl::StrFormat("%.3f", s.score));
    } else {
      absl::StrAppend(&outcome, ": error ", s.error);
    }
    if (s.correct.has_value()) absl::StrAppend(&outcome, *s.correct ? " (correct)" : " (wrong)");
    if (s.kind == SampleRecord::Kind::kTrain) {
      absl::StrAppend(&outcome, ", advantage ", absl::StrFormat("%.3f", s.advantage));
    }
    if (!s.finish_reason.empty()) absl::StrAppend(&outcome, ", finish ", s.finish_reason);
    absl::StrAppend(&out, i > 0 ? "\n\n---\n\n" : "", outcome, "\n\nprompt:\n\n",
                    Indented(s.prompt), "\n\nresponse:\n\n", Indented(s.response));
  }
  return out;
}

}  // namespace ponder::monitor
