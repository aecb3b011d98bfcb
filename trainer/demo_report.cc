#include "trainer/demo_report.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ponder::trainer {

absl::StatusOr<std::vector<MetricsLine>> MetricsFollower::Poll() {
  std::vector<MetricsLine> out;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return out;  // not written yet
  in.seekg(offset_);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline yet: the writer is still on it
    offset_ += static_cast<int64_t>(line.size()) + 1;
    ++line_;
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object() || !record.contains("step") ||
        !record["step"].is_number_integer() || !record.contains("metrics") ||
        !record["metrics"].is_object()) {
      return absl::DataLossError(absl::StrCat(
          path_, ":", line_, ": not a metrics record ({\"step\": N, \"metrics\": {...}})"));
    }
    MetricsLine parsed;
    parsed.step = record["step"].get<int64_t>();
    if (record.contains("wall_time") && record["wall_time"].is_number()) {
      parsed.wall_time = record["wall_time"].get<double>();
    }
    for (const auto& [name, value] : record["metrics"].items()) {
      if (value.is_number()) parsed.metrics[name] = value.get<double>();
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

std::optional<EvalPoint> FindEval(const MetricsLine& line, const std::string& set, int64_t k) {
  const std::string prefix = absl::StrCat("val/", set, "/");
  auto mean = line.metrics.find(absl::StrCat(prefix, "mean@", k));
  if (mean == line.metrics.end()) return std::nullopt;
  auto value = [&](const std::string& name) {
    auto it = line.metrics.find(prefix + name);
    return it == line.metrics.end() ? 0.0 : it->second;
  };
  return EvalPoint{.step = line.step,
                   .wall_time = line.wall_time,
                   .greedy = value("greedy_acc"),
                   .mean_at_k = mean->second,
                   .pass_at_k = value(absl::StrCat("pass@", k))};
}

namespace {

std::string Percent(double fraction) { return absl::StrFormat("%.1f%%", 100 * fraction); }
std::string Minutes(double seconds) { return absl::StrFormat("%.1f min", seconds / 60); }

std::string Row(const std::string& label, const EvalPoint& e) {
  return absl::StrFormat("  %-44s %8s %8s %8s\n", label, Percent(e.mean_at_k), Percent(e.greedy),
                         Percent(e.pass_at_k));
}

}  // namespace

std::string DemoSummary(const DemoOutcome& o) {
  const std::string mean = absl::StrCat("mean@", o.k);
  std::string out = absl::StrCat("\n== Ponder demo: ", o.task, " ==\n");
  absl::StrAppend(&out, absl::StrFormat("  %-44s %8s %8s %8s\n", "held-out prompts", mean, "greedy",
                                        absl::StrCat("pass@", o.k)));
  absl::StrAppend(
      &out, Row(absl::StrCat("warm start (SFT, ", Minutes(o.warm_start_s), ")"), o.warm_start));
  absl::StrAppend(&out, Row(absl::StrCat("RL: ", o.algorithm, " + verifier (", o.rl_steps,
                                         " steps, ", Minutes(o.side_by_side_s), ")"),
                            o.rl));
  absl::StrAppend(&out, Row(absl::StrCat("control: more SFT (", o.control_steps, " steps, ",
                                         Minutes(o.side_by_side_s), ")"),
                            o.control));
  const double gain = 100 * (o.rl.mean_at_k - o.warm_start.mean_at_k);
  const double lead = 100 * (o.rl.mean_at_k - o.control.mean_at_k);
  absl::StrAppend(&out,
                  absl::StrFormat("RL: %+.1f points of held-out %s over the warm start, %+.1f "
                                  "over the control (same data, same time, one core each)\n",
                                  gain, mean, lead));
  absl::StrAppend(&out, "run directory: ", o.run_dir, " (its dashboard: ponder dashboard --runs ",
                  o.run_dir, ")\n");
  absl::StrAppend(&out, "control (continued SFT on the same demonstrations): held-out accuracy ",
                  Percent(o.warm_start.mean_at_k), " -> ", Percent(o.control.mean_at_k), "\n");
  absl::StrAppend(&out, "wall time: ", Minutes(o.total_s), " (warm start ", Minutes(o.warm_start_s),
                  ", RL and control side by side ", Minutes(o.side_by_side_s),
                  "; build excluded)\n");
  absl::StrAppend(&out, "held-out accuracy: ", Percent(o.warm_start.mean_at_k), " -> ",
                  Percent(o.rl.mean_at_k), "\n");
  return out;
}

}  // namespace ponder::trainer
