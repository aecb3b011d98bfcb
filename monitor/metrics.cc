#include "monitor/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

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

absl::Status AppendLine(const fs::path& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << '\n';
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
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
    std::ifstream in(metrics_path);
    std::string kept, line;
    while (std::getline(in, line)) {
      nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      // A torn last line (the process died mid-write) is dropped like a later step.
      if (record.is_discarded() || !record.contains("step")) continue;
      if (record["step"].get<int64_t>() <= resume_step) absl::StrAppend(&kept, line, "\n");
    }
    in.close();
    const fs::path tmp = metrics_path.string() + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << kept;
    fs::rename(tmp, metrics_path, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("cannot rewrite '", metrics_path.string(), "'"));
  }
  return std::unique_ptr<RunDirSink>(new RunDirSink(dir));
}

absl::Status RunDirSink::Write(int64_t step, const Metrics& metrics) {
  const double wall_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json record = {
      {"step", step}, {"wall_time", wall_time}, {"metrics", MetricsJson(metrics)}};
  return AppendLine(fs::path(dir_) / "metrics.jsonl", record.dump());
}

namespace {

absl::Status WriteSampleFile(const fs::path& path, const std::vector<SampleRecord>& samples) {
  std::ofstream out(path, std::ios::trunc);
  for (const SampleRecord& sample : samples) out << ToJson(sample).dump() << '\n';
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDirSink::WriteSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  return WriteSampleFile(fs::path(dir_) / "samples" / absl::StrCat("step_", step, ".jsonl"),
                         samples);
}

absl::Status RunDirSink::WriteEvalSamples(int64_t step, const std::vector<SampleRecord>& samples) {
  return WriteSampleFile(fs::path(dir_) / "samples" / absl::StrCat("eval_step_", step, ".jsonl"),
                         samples);
}

absl::Status RunDirSink::WriteTokenDetails(int64_t step,
                                           const std::vector<TokenDetailRecord>& details) {
  const fs::path path = fs::path(dir_) / "samples" / absl::StrCat("step_", step, "_tokens.jsonl");
  std::ofstream out(path, std::ios::trunc);
  for (const TokenDetailRecord& d : details) out << ToJson(d).dump() << '\n';
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

absl::StatusOr<std::map<int64_t, Metrics>> ReadMetricsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::map<int64_t, Metrics> out;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
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
