// The dashboard's JSON API (routes listed in dashboard.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "monitor/dashboard.h"
#include "monitor/downsample.h"
#include "monitor/sample_query.h"

namespace ponder::monitor {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxSeriesPerRequest = 500;
constexpr size_t kDefaultMaxPoints = 1000;
constexpr size_t kMaxPoints = 100000;
// A run whose metrics changed this recently is shown as live.
constexpr double kLiveSeconds = 120;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// NaN and infinities become null (JSON has neither).
json Values(const std::vector<double>& values) {
  json out = json::array();
  for (double v : values) out.push_back(std::isfinite(v) ? json(v) : json(nullptr));
  return out;
}

// An integer query parameter, or `fallback` when absent; false (with `error` set) when bad.
bool IntParam(const HttpRequest& req, const char* name, int64_t fallback, int64_t* out,
              HttpResponse* error) {
  const std::string text = req.Param(name);
  if (text.empty()) {
    *out = fallback;
    return true;
  }
  if (!absl::SimpleAtoi(text, out)) {
    *error = HttpResponse::Error(400, absl::StrCat(name, " must be an integer (got '", text, "')"));
    return false;
  }
  return true;
}

absl::StatusOr<SampleKind> KindParam(const HttpRequest& req) {
  const std::string kind = req.Param("kind", "train");
  if (kind == "train") return SampleKind::kTrain;
  if (kind == "eval") return SampleKind::kEval;
  return absl::InvalidArgumentError(absl::StrCat("kind must be train or eval (got '", kind, "')"));
}

HttpResponse FromStatus(const absl::Status& status) {
  const int code = absl::IsNotFound(status) ? 404 : absl::IsInvalidArgument(status) ? 400 : 500;
  return HttpResponse::Error(code, std::string(status.message()));
}

// The token of a `token:` line, however nested, is replaced.
std::string RedactTokens(const std::string& yaml) {
  static const std::regex kToken(
      R"((^|\n)(\s*[A-Za-z_]*token\s*:\s*)("[^"\n]+"|'[^'\n]+'|[^\s"'#][^\n#]*))");
  return std::regex_replace(yaml, kToken, "$1$2<redacted>");
}

}  // namespace

std::shared_ptr<RunStore> Dashboard::RunParam(const HttpRequest& req, HttpResponse* error) const {
  const std::string id = req.Param("run");
  if (id.empty()) {
    *error = HttpResponse::Error(400, "give the run: ?run=<id> (see /api/runs)");
    return nullptr;
  }
  std::shared_ptr<RunStore> run = catalog_.Find(id);
  if (run == nullptr) {
    *error = HttpResponse::Error(
        404, absl::StrCat("no run '", id, "' under '", catalog_.root(), "' (see /api/runs)"));
  }
  return run;
}

HttpResponse Dashboard::Runs(const HttpRequest&) {
  json runs = json::array();
  const double now = Now();
  for (const auto& run : catalog_.Runs()) {
    const double last = run->last_wall_time();
    runs.push_back({{"id", run->id()},
                    {"dir", run->dir()},
                    {"last_step", run->last_step()},
                    {"num_steps", run->num_steps()},
                    {"first_wall_time", run->first_wall_time()},
                    {"last_wall_time", last},
                    {"live", last > 0 && now - last < kLiveSeconds}});
  }
  return HttpResponse::Json({{"root", catalog_.root()}, {"runs", runs}});
}

HttpResponse Dashboard::Run(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  std::vector<int64_t> train = run->SampleSteps(SampleKind::kTrain);
  std::vector<int64_t> tokens;
  for (int64_t step : train) {
    if (run->HasTokenDetails(step)) tokens.push_back(step);
  }
  return HttpResponse::Json({{"id", run->id()},
                             {"dir", run->dir()},
                             {"names", run->Names()},
                             {"last_step", run->last_step()},
                             {"num_steps", run->num_steps()},
                             {"sample_steps", train},
                             {"eval_sample_steps", run->SampleSteps(SampleKind::kEval)},
                             {"token_steps", tokens},
                             {"warnings", run->warnings()}});
}

HttpResponse Dashboard::SeriesOf(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  int64_t from, to, max_points;
  if (!IntParam(req, "from", INT64_MIN, &from, &error) ||
      !IntParam(req, "to", INT64_MAX, &to, &error) ||
      !IntParam(req, "max_points", kDefaultMaxPoints, &max_points, &error)) {
    return error;
  }
  if (max_points < 4 || max_points > static_cast<int64_t>(kMaxPoints)) {
    return HttpResponse::Error(400, absl::StrCat("max_points must be between 4 and ", kMaxPoints,
                                                 " (got ", max_points, ")"));
  }
  std::vector<std::string> names = absl::StrSplit(req.Param("names"), ',', absl::SkipEmpty());
  if (names.empty()) return HttpResponse::Error(400, "give the series: ?names=a,b,...");
  if (names.size() > kMaxSeriesPerRequest) {
    return HttpResponse::Error(400, absl::StrCat("at most ", kMaxSeriesPerRequest,
                                                 " names per request (got ", names.size(), ")"));
  }
  json series = json::object();
  size_t points = 0, raw = 0;
  for (const std::string& name : names) {
    const Series full = run->Get(name, from, to);
    raw += full.steps.size();
    const Series s = MinMaxDownsample(full, static_cast<size_t>(max_points));
    points += s.steps.size();
    series[name] = {{"step", s.steps}, {"value", Values(s.values)}};
  }
  return HttpResponse::Json({{"run", run->id()},
                             {"series", std::move(series)},
                             {"points", points},
                             {"raw_points", raw},
                             {"last_step", run->last_step()}});
}

HttpResponse Dashboard::StepsOf(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  const int64_t last = run->last_step();
  int64_t from, to;
  if (!IntParam(req, "from", last - 99, &from, &error) ||
      !IntParam(req, "to", INT64_MAX, &to, &error)) {
    return error;
  }
  to = std::min(to, last);
  if (to - from > 10000) {
    return HttpResponse::Error(
        400, absl::StrCat("at most 10000 steps per request (from ", from, " to ", to, ")"));
  }
  std::vector<int64_t> steps;
  std::vector<double> wall;
  for (const auto& [step, time] : run->Steps(from, to)) {
    steps.push_back(step);
    wall.push_back(time);
  }
  json timing = json::object();
  for (const std::string& name : run->Names()) {
    if (name.rfind("timing/", 0) != 0) continue;
    const Series s = run->Get(name, from, to);
    std::vector<double> column(steps.size(), std::nan(""));
    for (size_t i = 0, j = 0; i < s.steps.size(); ++i) {
      while (j < steps.size() && steps[j] < s.steps[i]) ++j;
      if (j < steps.size() && steps[j] == s.steps[i]) column[j] = s.values[i];
    }
    timing[name] = Values(column);
  }
  return HttpResponse::Json(
      {{"run", run->id()}, {"step", steps}, {"wall_time", wall}, {"timing", std::move(timing)}});
}

HttpResponse Dashboard::SamplesOf(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  absl::StatusOr<SampleKind> kind = KindParam(req);
  if (!kind.ok()) return FromStatus(kind.status());
  int64_t step;
  if (!IntParam(req, "step", -1, &step, &error)) return error;
  if (step < 0) {  // the newest step with samples
    std::vector<int64_t> steps = run->SampleSteps(*kind);
    if (steps.empty()) {
      return HttpResponse::Json({{"run", run->id()},
                                 {"step", nullptr},
                                 {"total", 0},
                                 {"matched", 0},
                                 {"groups", json::object()},
                                 {"samples", json::array()}});
    }
    step = steps.back();
  }
  absl::StatusOr<SampleQuery> query = SampleQuery::FromParams(req.params);
  if (!query.ok()) return FromStatus(query.status());
  auto samples = run->Samples(*kind, step);
  if (!samples.ok()) return FromStatus(samples.status());
  json out = RunSampleQuery(**samples, *query);
  out["run"] = run->id();
  out["step"] = step;
  out["has_tokens"] = *kind == SampleKind::kTrain && run->HasTokenDetails(step);
  return HttpResponse::Json(out);
}

HttpResponse Dashboard::OneSample(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  absl::StatusOr<SampleKind> kind = KindParam(req);
  if (!kind.ok()) return FromStatus(kind.status());
  int64_t step, index;
  if (!IntParam(req, "step", -1, &step, &error) || !IntParam(req, "index", -1, &index, &error)) {
    return error;
  }
  if (step < 0 || index < 0) return HttpResponse::Error(400, "give ?step=N&index=I");
  auto samples = run->Samples(*kind, step);
  if (!samples.ok()) return FromStatus(samples.status());
  if (index >= static_cast<int64_t>((*samples)->size())) {
    return HttpResponse::Error(404, absl::StrCat("step ", step, " has ", (*samples)->size(),
                                                 " samples; no index ", index));
  }
  const json& sample = (**samples)[static_cast<size_t>(index)];
  json out = {{"run", run->id()},
              {"step", step},
              {"index", index},
              {"sample", sample},
              {"extracted", ExtractedAnswer(sample)},
              {"tokens", nullptr}};
  if (*kind == SampleKind::kTrain && run->HasTokenDetails(step)) {
    auto details = run->TokenDetails(step);
    if (!details.ok()) return FromStatus(details.status());
    for (const json& d : **details) {
      if (d.value("prompt_uid", json()) == sample.value("prompt_uid", json()) &&
          d.value("sample_index", json()) == sample.value("sample_index", json())) {
        out["tokens"] = d;
        break;
      }
    }
  }
  return HttpResponse::Json(out);
}

HttpResponse Dashboard::PromptHistory(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  absl::StatusOr<SampleKind> kind = KindParam(req);
  if (!kind.ok()) return FromStatus(kind.status());
  const std::string origin = req.Param("origin"), prompt = req.Param("prompt");
  if (origin.empty() == prompt.empty()) {
    return HttpResponse::Error(400, "give one of ?origin= (a dataset record) or ?prompt= (text)");
  }
  int64_t before, files;
  if (!IntParam(req, "before", INT64_MAX, &before, &error) ||
      !IntParam(req, "files", 200, &files, &error)) {
    return error;
  }
  if (files < 1 || files > 2000) return HttpResponse::Error(400, "files must be 1 to 2000");
  // The newest `files` sample files before `before`, newest first.
  std::vector<int64_t> steps = run->SampleSteps(*kind);
  json rows = json::array();
  int64_t scanned = 0, oldest = -1;
  for (auto it = steps.rbegin(); it != steps.rend() && scanned < files; ++it) {
    if (*it >= before) continue;
    ++scanned;
    oldest = *it;
    auto samples = run->Samples(*kind, *it);
    if (!samples.ok()) continue;
    for (size_t i = 0; i < (*samples)->size(); ++i) {
      const json& s = (**samples)[i];
      const bool match = !origin.empty() ? s.value("origin", std::string()) == origin
                                         : s.value("prompt", std::string()) == prompt;
      if (!match) continue;
      json row = {{"step", *it}, {"index", i}, {"extracted", ExtractedAnswer(s)}};
      for (const char* key : {"sample_index", "score", "correct", "advantage", "finish_reason",
                              "response_tokens", "response", "error"}) {
        auto f = s.find(key);
        if (f != s.end()) row[key] = *f;
      }
      rows.push_back(std::move(row));
    }
  }
  return HttpResponse::Json(
      {{"run", run->id()}, {"samples", rows}, {"scanned_files", scanned}, {"oldest_step", oldest}});
}

HttpResponse Dashboard::Config(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  absl::StatusOr<std::string> text =
      file::ReadFile((fs::path(run->dir()) / "config.yaml").string(), "run config");
  if (absl::IsNotFound(text.status())) {
    return HttpResponse::Error(404, absl::StrCat("run '", run->id(), "' has no config.yaml"));
  }
  if (!text.ok()) return FromStatus(text.status());
  return HttpResponse::Json({{"run", run->id()}, {"yaml", RedactTokens(*text)}});
}

HttpResponse Dashboard::Workers(const HttpRequest& req) {
  HttpResponse error;
  std::shared_ptr<RunStore> run = RunParam(req, &error);
  if (run == nullptr) return error;
  if (options_.workers && options_.single_run) {
    return HttpResponse::Json({{"run", run->id()}, {"workers", options_.workers()}});
  }
  // A run that has written no workers.json yet has no workers to show.
  absl::StatusOr<std::string> text =
      file::ReadFile((fs::path(run->dir()) / "workers.json").string(), "workers file");
  if (!text.ok() && !absl::IsNotFound(text.status())) return FromStatus(text.status());
  json workers = json::array();
  if (text.ok()) {
    json list = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (list.is_object() && list.contains("workers")) workers = list["workers"];
  }
  return HttpResponse::Json({{"run", run->id()}, {"workers", workers}});
}

}  // namespace ponder::monitor
