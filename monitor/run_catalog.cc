#include "monitor/run_catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace ponder::monitor {
namespace fs = std::filesystem;

namespace {

bool IsRunDir(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "metrics.jsonl", ec) || fs::exists(dir / "config.yaml", ec);
}

// A run's id: its folder name (the root's own name when the root is the run).
std::string RunId(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.empty() || name == ".") name = fs::absolute(p).lexically_normal().filename().string();
  return name.empty() ? "run" : name;
}

}  // namespace

std::vector<RunCatalog::Update> RunCatalog::Refresh() {
  // Discover runs outside the lock (listing a large folder takes a while).
  std::vector<fs::path> dirs;
  const fs::path root(root_);
  if (single_ || IsRunDir(root)) {
    dirs.push_back(root);
  }
  if (!single_) {
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
      if (entry.is_directory(ec) && IsRunDir(entry.path())) dirs.push_back(entry.path());
    }
  }
  std::vector<Update> updates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const fs::path& dir : dirs) {
      std::string id = dir == root ? RunId(root) : dir.filename().string();
      auto same_dir = [&](const std::shared_ptr<RunStore>& r) { return r->dir() == dir.string(); };
      if (std::any_of(runs_.begin(), runs_.end(), same_dir)) continue;
      // Two runs with one name (the root and a child): the child keeps it.
      while (std::any_of(runs_.begin(), runs_.end(),
                         [&](const std::shared_ptr<RunStore>& r) { return r->id() == id; })) {
        id += "'";
      }
      auto run = std::make_shared<RunStore>(id, dir.string());
      runs_.push_back(run);
      Update update;
      update.run = run;
      update.added = true;
      updates.push_back(std::move(update));
    }
    std::sort(runs_.begin(), runs_.end(),
              [](const auto& a, const auto& b) { return a->id() < b->id(); });
  }
  for (const std::shared_ptr<RunStore>& run : Runs()) {
    auto it =
        std::find_if(updates.begin(), updates.end(), [&](const Update& u) { return u.run == run; });
    absl::StatusOr<std::vector<int64_t>> steps = run->Refresh();
    if (!steps.ok()) {
      spdlog::warn("dashboard: run {}: {}", run->id(), std::string(steps.status().message()));
      continue;
    }
    std::vector<std::pair<SampleKind, int64_t>> files = run->TakeNewSampleFiles();
    if (steps->empty() && files.empty() && it == updates.end()) continue;
    if (it == updates.end()) {
      updates.emplace_back();
      it = updates.end() - 1;
      it->run = run;
    }
    it->steps = std::move(*steps);
    it->sample_files = std::move(files);
  }
  return updates;
}

std::vector<std::shared_ptr<RunStore>> RunCatalog::Runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_;
}

std::shared_ptr<RunStore> RunCatalog::Find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& run : runs_) {
    if (run->id() == id) return run;
  }
  return nullptr;
}

}  // namespace ponder::monitor
