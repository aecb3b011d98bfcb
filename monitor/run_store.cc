#include "monitor/run_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ponder::monitor {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kCachedFiles = 8;
constexpr size_t kMaxWarnings = 20;

// "step_12.jsonl" -> 12 for prefix "step_" and suffix ".jsonl"; -1 otherwise.
int64_t StepOf(const std::string& name, absl::string_view prefix, absl::string_view suffix) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, prefix) || !absl::ConsumeSuffix(&rest, suffix)) return -1;
  int64_t step = -1;
  if (rest.empty() || !absl::SimpleAtoi(rest, &step) || step < 0) return -1;
  return step;
}

}  // namespace

void RunStore::ResetLocked() {
  offset_ = 0;
  line_no_ = 0;
  series_.clear();
  steps_.clear();
}

void RunStore::AddPointLocked(const std::string& name, int64_t step, double value) {
  Series& s = series_[name];
  if (s.steps.empty() || step > s.steps.back()) {
    s.steps.push_back(step);
    s.values.push_back(value);
    return;
  }
  // Out of order (a rewritten step): replace or insert in place.
  auto it = std::lower_bound(s.steps.begin(), s.steps.end(), step);
  const size_t i = static_cast<size_t>(it - s.steps.begin());
  if (it != s.steps.end() && *it == step) {
    s.values[i] = value;
  } else {
    s.steps.insert(it, step);
    s.values.insert(s.values.begin() + static_cast<std::ptrdiff_t>(i), value);
  }
}

absl::StatusOr<std::vector<int64_t>> RunStore::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  ListSamplesLocked();
  const fs::path path = fs::path(dir_) / "metrics.jsonl";
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (offset_ > 0 || !series_.empty()) ResetLocked();
    return std::vector<int64_t>();
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  if (static_cast<uint64_t>(info.st_ino) != inode_ || size < offset_) {
    ResetLocked();
    inode_ = static_cast<uint64_t>(info.st_ino);
  }
  if (size == offset_) return std::vector<int64_t>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string text(size - offset_, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  const size_t end = text.rfind('\n');
  if (end == std::string::npos) return std::vector<int64_t>();  // a line still being written
  offset_ += end + 1;

  std::vector<int64_t> changed;
  size_t begin = 0;
  while (begin <= end) {
    const size_t newline = text.find('\n', begin);
    const std::string_view line(text.data() + begin, newline - begin);
    begin = newline + 1;
    ++line_no_;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object() || !record.contains("step") ||
        !record["step"].is_number_integer() || !record.contains("metrics") ||
        !record["metrics"].is_object()) {
      if (warnings_.size() < kMaxWarnings) {
        warnings_.push_back(absl::StrCat(path.string(), ":", line_no_,
                                         ": not a metrics record {\"step\": N, \"metrics\": "
                                         "{...}}; skipped"));
      }
      continue;
    }
    const int64_t step = record["step"].get<int64_t>();
    const json& wall = record.contains("wall_time") ? record["wall_time"] : json();
    steps_.emplace(step, wall.is_number() ? wall.get<double>() : 0.0);
    for (const auto& [name, value] : record["metrics"].items()) {
      AddPointLocked(
          name, step,
          value.is_number() ? value.get<double>() : std::numeric_limits<double>::quiet_NaN());
    }
    changed.push_back(step);
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  return changed;
}

void RunStore::ListSamplesLocked() {
  const fs::path dir = fs::path(dir_) / "samples";
  std::error_code ec;
  const fs::file_time_type mtime = fs::last_write_time(dir, ec);
  if (ec || (listed_once_ && mtime == samples_mtime_)) return;
  std::map<SampleKind, std::vector<int64_t>> found;
  std::vector<int64_t> tokens;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (int64_t s = StepOf(name, "step_", ".jsonl"); s >= 0) found[SampleKind::kTrain].push_back(s);
    if (int64_t s = StepOf(name, "eval_step_", ".jsonl"); s >= 0) {
      found[SampleKind::kEval].push_back(s);
    }
    if (int64_t s = StepOf(name, "step_", "_tokens.jsonl"); s >= 0) tokens.push_back(s);
  }
  for (auto& [kind, steps] : found) {
    std::sort(steps.begin(), steps.end());
    if (!listed_once_) continue;
    const std::vector<int64_t>& before = sample_steps_[kind];
    for (int64_t s : steps) {
      if (!std::binary_search(before.begin(), before.end(), s)) {
        new_sample_files_.emplace_back(kind, s);
      }
    }
  }
  std::sort(tokens.begin(), tokens.end());
  sample_steps_ = std::move(found);
  token_steps_ = std::move(tokens);
  samples_mtime_ = mtime;
  listed_once_ = true;
}

std::vector<std::pair<SampleKind, int64_t>> RunStore::TakeNewSampleFiles() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(new_sample_files_, {});
}

std::vector<std::string> RunStore::warnings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return warnings_;
}

std::vector<std::string> RunStore::Names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  names.reserve(series_.size());
  for (const auto& [name, series] : series_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

int64_t RunStore::last_step() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_.empty() ? -1 : steps_.rbegin()->first;
}

int64_t RunStore::num_steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(steps_.size());
}

double RunStore::first_wall_time() const {
  std::lock_guard<std::mutex> lock(mu_);
  double first = 0;
  for (const auto& [step, wall] : steps_) {
    if (wall > 0 && (first == 0 || wall < first)) first = wall;
  }
  return first;
}

double RunStore::last_wall_time() const {
  std::lock_guard<std::mutex> lock(mu_);
  double last = 0;
  for (const auto& [step, wall] : steps_) last = std::max(last, wall);
  return last;
}

Series RunStore::Get(const std::string& name, int64_t from, int64_t to) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(name);
  if (it == series_.end()) return {};
  const Series& s = it->second;
  const auto lo = std::lower_bound(s.steps.begin(), s.steps.end(), from) - s.steps.begin();
  const auto hi = std::upper_bound(s.steps.begin(), s.steps.end(), to) - s.steps.begin();
  Series out;
  out.steps.assign(s.steps.begin() + lo, s.steps.begin() + hi);
  out.values.assign(s.values.begin() + lo, s.values.begin() + hi);
  return out;
}

Metrics RunStore::StepMetrics(int64_t step) const {
  std::lock_guard<std::mutex> lock(mu_);
  Metrics out;
  for (const auto& [name, s] : series_) {
    auto it = std::lower_bound(s.steps.begin(), s.steps.end(), step);
    if (it != s.steps.end() && *it == step) out[name] = s.values[it - s.steps.begin()];
  }
  return out;
}

std::vector<std::pair<int64_t, double>> RunStore::Steps(int64_t from, int64_t to) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<int64_t, double>> out;
  for (auto it = steps_.lower_bound(from); it != steps_.end() && it->first <= to; ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::vector<int64_t> RunStore::SampleSteps(SampleKind kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sample_steps_.find(kind);
  return it == sample_steps_.end() ? std::vector<int64_t>() : it->second;
}

bool RunStore::HasTokenDetails(int64_t step) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::binary_search(token_steps_.begin(), token_steps_.end(), step);
}

fs::path RunStore::SamplePath(SampleKind kind, int64_t step) const {
  return fs::path(dir_) / "samples" /
         absl::StrCat(kind == SampleKind::kEval ? "eval_step_" : "step_", step, ".jsonl");
}

absl::StatusOr<std::shared_ptr<const std::vector<json>>> RunStore::Samples(SampleKind kind,
                                                                           int64_t step) {
  return ReadJsonLines(SamplePath(kind, step));
}

absl::StatusOr<std::shared_ptr<const std::vector<json>>> RunStore::TokenDetails(int64_t step) {
  return ReadJsonLines(fs::path(dir_) / "samples" / absl::StrCat("step_", step, "_tokens.jsonl"));
}

absl::StatusOr<std::shared_ptr<const std::vector<json>>> RunStore::ReadJsonLines(
    const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("no file '", path.string(), "'"));
  const fs::file_time_type mtime = fs::last_write_time(path, ec);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->path == path.string() && it->size == size && it->mtime == mtime) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().lines;
      }
    }
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  auto lines = std::make_shared<std::vector<json>>();
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded() || !value.is_object()) {
      // A last line without its newline may still be being written; anything else is bad.
      if (in.eof()) break;
      return absl::DataLossError(absl::StrCat(path.string(), ":", line_no, ": not a JSON object"));
    }
    lines->push_back(std::move(value));
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.push_front({path.string(), size, mtime, lines});
  if (cache_.size() > kCachedFiles) cache_.pop_back();
  return std::shared_ptr<const std::vector<json>>(lines);
}

}  // namespace ponder::monitor
