// The runs a dashboard shows: every run directory directly inside a folder (`ponder dashboard
// --runs runs/`), the folder itself when it is a run, or one fixed run (`ponder train`).
// A run directory is one with metrics.jsonl or config.yaml. Runs that appear later are found
// by the next Refresh().
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "monitor/run_store.h"

namespace ponder::monitor {

class RunCatalog {
 public:
  // `root`: a folder of runs, or a run. With `single`, only `root` itself, even before its
  // files exist.
  explicit RunCatalog(std::string root, bool single = false)
      : root_(std::move(root)), single_(single) {}

  struct Update {
    std::shared_ptr<RunStore> run;
    bool added = false;                                        // first seen in this refresh
    std::vector<int64_t> steps;                                // steps with new metrics
    std::vector<std::pair<SampleKind, int64_t>> sample_files;  // new sample files
  };
  // Finds new runs and refreshes every run; returns what changed.
  std::vector<Update> Refresh();

  std::vector<std::shared_ptr<RunStore>> Runs() const;
  std::shared_ptr<RunStore> Find(const std::string& id) const;
  const std::string& root() const { return root_; }

 private:
  const std::string root_;
  const bool single_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<RunStore>> runs_;  // sorted by id
};

}  // namespace ponder::monitor
