// One run directory as the dashboard reads it, live or finished (DESIGN.md §5):
// metrics.jsonl, samples/{step,eval_step}_<N>.jsonl (and per-token detail beside them in
// samples/step_<N>_tokens.jsonl), config.yaml and workers.json.
//
// Refresh() reads only what was appended to metrics.jsonl since the last call (a torn last
// line waits for its end; a file that shrank or was replaced is read again from the start),
// so a poller can call it often. Every method is thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "monitor/metrics.h"

namespace ponder::monitor {

struct Series {
  std::vector<int64_t> steps;  // increasing
  std::vector<double> values;  // NaN where the file has null
};

// Which sample files: the training step's, or the held-out evaluation's.
enum class SampleKind { kTrain, kEval };

class RunStore {
 public:
  RunStore(std::string id, std::string dir) : id_(std::move(id)), dir_(std::move(dir)) {}

  // Reads new metric lines and lists the sample files. Returns the steps that got metrics in
  // this call (ascending; all of them after a reread). A line that is not a metrics record is
  // skipped with a warning naming file and line (warnings()).
  absl::StatusOr<std::vector<int64_t>> Refresh();
  std::vector<std::string> warnings() const;
  // Sample files that appeared in the last Refresh (kind, step).
  std::vector<std::pair<SampleKind, int64_t>> TakeNewSampleFiles();

  const std::string& id() const { return id_; }
  const std::string& dir() const { return dir_; }

  std::vector<std::string> Names() const;
  int64_t last_step() const;  // -1 before any metrics
  int64_t num_steps() const;
  double first_wall_time() const;
  double last_wall_time() const;
  // Points of `name` with from <= step <= to (empty when unknown).
  Series Get(const std::string& name, int64_t from = INT64_MIN, int64_t to = INT64_MAX) const;
  // Every metric of `step` (merged over its lines: training and evaluation).
  Metrics StepMetrics(int64_t step) const;
  // Steps with metrics in [from, to], with the wall time of their first line.
  std::vector<std::pair<int64_t, double>> Steps(int64_t from = INT64_MIN,
                                                int64_t to = INT64_MAX) const;
  // Steps that have a sample file of `kind`, ascending.
  std::vector<int64_t> SampleSteps(SampleKind kind) const;
  bool HasTokenDetails(int64_t step) const;

  // The samples of one file, parsed (cached; a file that changed is read again). NotFound
  // when there is none; a bad line is an error naming file and line.
  absl::StatusOr<std::shared_ptr<const std::vector<nlohmann::json>>> Samples(SampleKind kind,
                                                                             int64_t step);
  // samples/step_<N>_tokens.jsonl, one object per sample with prompt_uid and sample_index.
  absl::StatusOr<std::shared_ptr<const std::vector<nlohmann::json>>> TokenDetails(int64_t step);

  std::filesystem::path SamplePath(SampleKind kind, int64_t step) const;

 private:
  void ResetLocked();
  void AddPointLocked(const std::string& name, int64_t step, double value);
  void ListSamplesLocked();
  absl::StatusOr<std::shared_ptr<const std::vector<nlohmann::json>>> ReadJsonLines(
      const std::filesystem::path& path);

  const std::string id_, dir_;
  mutable std::mutex mu_;
  // metrics.jsonl: bytes consumed, and the file's identity (to notice a new file).
  uint64_t offset_ = 0;
  uint64_t inode_ = 0;
  int64_t line_no_ = 0;
  std::unordered_map<std::string, Series> series_;
  std::vector<std::string> warnings_;
  std::map<int64_t, double> steps_;  // step -> wall time of its first line
  // samples/: the directory's mtime at the last listing, and what it held.
  std::filesystem::file_time_type samples_mtime_{};
  std::map<SampleKind, std::vector<int64_t>> sample_steps_;
  std::vector<int64_t> token_steps_;
  std::vector<std::pair<SampleKind, int64_t>> new_sample_files_;
  bool listed_once_ = false;

  // A few parsed sample files: path -> (size, mtime, lines), most recent first.
  struct CachedFile {
    std::string path;
    uintmax_t size;
    std::filesystem::file_time_type mtime;
    std::shared_ptr<const std::vector<nlohmann::json>> lines;
  };
  std::mutex cache_mu_;
  std::list<CachedFile> cache_;
};

}  // namespace ponder::monitor
