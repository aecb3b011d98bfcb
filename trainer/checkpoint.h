// Checkpoint directories of a run: RUN_DIR/checkpoints/step_<N>/, written atomically and
// verified before they are trusted.
//
//   checkpoint:
//     every: 50         # RL steps between checkpoints (0: none on a schedule)
//     keep: 3           # newest checkpoints kept; older ones are deleted (0: keep all)
//     at_end: true      # one after the last step
//     on_signal: true   # one when SIGINT/SIGTERM stops the run
//
// A checkpoint is first written to `step_<N>.tmp/`; its last file is `manifest.json`, the size
// and CRC-32C of every other file; then the directory is renamed to `step_<N>/`. Loading
// checks the manifest, so a checkpoint that was cut short or damaged on disk is skipped with a
// warning and the previous one is used.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::trainer {

struct CheckpointOptions {
  int64_t every = 0;
  int64_t keep = 3;
  bool at_end = true;
  bool on_signal = true;

  void Bind(config::Binder& b);
};

// RUN_DIR/checkpoints
std::string CheckpointsDir(const std::string& run_dir);
// RUN_DIR/checkpoints/step_<step>
std::string CheckpointDir(const std::string& run_dir, int64_t step);

// Records every regular file under `dir` (recursively, except the manifest itself) with its
// size and CRC-32C in `dir/manifest.json`.
absl::Status WriteManifest(const std::string& dir);
// Checks `dir` against its manifest: DataLoss naming the first missing, resized or changed
// file; NotFound without a manifest.
absl::Status VerifyManifest(const std::string& dir);

// Steps of the complete checkpoints (named step_<N>, no .tmp), newest first.
std::vector<int64_t> ListCheckpoints(const std::string& run_dir);

// The newest checkpoint that passes VerifyManifest; the ones skipped on the way are logged as
// warnings and returned in `skipped` (with the reason) when it is not null. NotFound when no
// valid checkpoint exists.
absl::StatusOr<int64_t> LatestValidCheckpoint(const std::string& run_dir,
                                              std::vector<std::string>* skipped = nullptr);

// Renames `tmp_dir` to the final checkpoint directory of `step` (replacing an older one of the
// same step) after writing its manifest, then deletes all but the newest `keep` checkpoints
// (keep 0: none deleted) and leftover .tmp directories.
absl::Status CommitCheckpoint(const std::string& run_dir, const std::string& tmp_dir, int64_t step,
                              int64_t keep);

}  // namespace ponder::trainer
