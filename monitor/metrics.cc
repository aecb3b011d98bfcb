#include "monitor/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"

namespace ponder::monitor {
namespace fs = std::filesystem;

void AddSummary(Metrics& metrics, const std::string& prefix, const std::vector<double>& values) {
  if (values.empty()) return;
  double sum = 0;
  for (double v : values) sum += v;
  metrics[prefix + "/mean"] = sum / static_cast<double>(values.size());
  metrics[prefix + "/max"] = *std::max_element(values.begin(), values.end());
  metrics[prefix + "/min"] = *std::min_element(values.begin(), values.end());
}

void AddMeanStd(Metrics& metrics, const std::string& prefix, const std::vector<double>& values) {
  if (values.empty()) return;
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  metrics[prefix + "/mean"] = mean;
  metrics[prefix + "/std"] = std::sqrt(squares / static_cast<double>(values.size()));
}

namespace {

// The lines of a JSON-lines file, as std::getline gives them (no empty line after the last
// newline).
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// JSON has no NaN or infinity; they are written as null so that a bad step stays visible.
nlohmann::json MetricsJson(const Metrics& metrics) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : metrics) {
    out[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunDirSink>> RunDirSink::Create(const std::string& dir,
                                                               int64_t resume_step) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "samples", ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create run directory '", dir, "': ", ec.message()));
  }
  const fs::path metrics_path = fs::path(dir) / "metrics.jsonl";
  if (resume_step < 0) {
    fs::remove(metrics_path, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot remove '", metrics_path.string(), "': ", ec.message()));
    }
  } else if (fs::exists(metrics_path)) {
    PONDER_ASSIGN_OR_RETURN(const std::string text,
                            file::ReadFile(metrics_path.string(), "metrics file"));
    std::string kept;
    for (std::string_view line : Lines(text)) {
      nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      // A torn last line (the process died mid-write) is dropped like a later step.
      if (record.is_discarded() || !record.contains("step")) continue;
      if (record["step"].get<int64_t>() <= resume_step) kept.append(line).push_back('\n');
    }
    PONDER_RETURN_IF_ERROR(file::WriteFileAtomically(metrics_path.string(), kept));
  }
  return std::unique_ptr<RunDirSink>(new RunDirSink(dir));
}

absl::Status RunDirSink::Write(int64_t step, const Metrics& metrics) {
  const double wall_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json record = {
      {"step", step}, {"wall_time", wall_time}, {"metrics", MetricsJson(metrics)}};
  return file::AppendLine((fs::path(dir_) / "metrics.jsonl").string(), record.dump());
}

namespace {

// One JSON line per record.
template <typename Record>
absl::Status WriteRecordFile(const fs::path& path, const std::vector<Record>& records) {
  std::string text;
  for (const Record& record : records) absl::StrAppend(&text, ToJson(record).dump(), "\n");
  return file::WriteFileAtomically(path.string(), text);
}

}  // namespace

absl::Status RunDirSink::WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  return WriteRecordFile(fs::path(dir_) / "samples" / absl::StrCat("step_", step, ".jsonl"),
                         samples);
}

absl::Status RunDirSink::WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  return WriteRecordFile(fs::path(dir_) / "samples" / absl::StrCat("eval_step_", step, ".jsonl"),
                         samples);
}

absl::Status RunDirSink::WriteTokenDetails(int64_t step,
                                           const std::vector<TokenDetailRecord>& details) {
  return WriteRecordFile(fs::path(dir_) / "samples" / absl::StrCat("step_", step, "_tokens.jsonl"),
                         details);
}

absl::StatusOr<std::map<int64_t, Metrics>> ReadMetricsFile(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(const std::string text, file::ReadFile(path, "metrics file"));
  const std::vector<std::string_view> lines = Lines(text);
  std::map<int64_t, Metrics> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t line_no = i + 1;
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object() || !record.contains("step") ||
        !record["step"].is_number_integer() || !record.contains("metrics") ||
        !record["metrics"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": not a metrics record {\"step\": N, \"metrics\": {...}}"));
    }
    Metrics& metrics = out[record["step"].get<int64_t>()];
    for (const auto& [name, value] : record["metrics"].items()) {
      metrics[name] = value.is_number() ? value.get<double>() : std::nan("");
    }
  }
  return out;
}

}  // namespace ponder::monitor
