// Paused partial rollouts (Kimi k1.5): samples that spent their round's token budget wait
// here with their tokens, log-probs and version segments until a later round resumes them.
//
// With a directory, each paused sample is also a JSON file there (written to a temporary
// name, synced and renamed, so a crash leaves either the old or the new file), and Open()
// loads what a previous process left: the store survives a worker restart. A sample that is
// resumed keeps its file until it finishes or pauses again, so a crash mid-round loses nothing
// but that round's new tokens.
//
// Not thread-safe: the engine's scheduler thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rollout/rollout.h"

namespace ponder::rollout {

struct PausedRollout {
  uint64_t prompt_index = 0;
  uint32_t sample_index = 0;
  std::vector<int32_t> prompt;
  SamplingOptions sampling;
  std::vector<int32_t> token_ids;
  std::vector<float> logprobs;
  std::vector<Segment> segments;
  bool return_text = false;
  int64_t rounds = 0;  // rounds this sample has run so far
};

class PartialRolloutStore {
 public:
  using Key = std::pair<uint64_t, uint32_t>;  // (prompt_index, sample_index)

  // `dir` empty: memory only. Otherwise the directory is created if needed and the paused
  // samples in it are loaded; a file that cannot be read is an error naming it.
  static absl::StatusOr<std::unique_ptr<PartialRolloutStore>> Open(const std::string& dir);

  // Stores a paused sample (replacing one with the same key, e.g. one that was resumed).
  absl::Status Put(PausedRollout rollout);
  // Hands out every waiting sample for resuming; they stay recorded (and on disk) as in flight
  // until Put or Remove.
  std::vector<PausedRollout> TakeWaiting();
  // Forgets a sample (finished or aborted), deleting its file.
  absl::Status Remove(const Key& key);

  // Whether any waiting or in-flight sample belongs to `prompt_index`.
  bool HasPrompt(uint64_t prompt_index) const;
  size_t num_waiting() const { return waiting_.size(); }
  size_t num_in_flight() const { return in_flight_.size(); }
  const std::string& dir() const { return dir_; }

  // The JSON form of a paused sample, and back (`where` names the source in errors).
  static std::string ToJson(const PausedRollout& rollout);
  static absl::StatusOr<PausedRollout> FromJson(const std::string& text, const std::string& where);

 private:
  explicit PartialRolloutStore(std::string dir) : dir_(std::move(dir)) {}
  std::string PathFor(const Key& key) const;

  std::string dir_;
  std::map<Key, PausedRollout> waiting_;
  std::set<Key> in_flight_;
};

}  // namespace ponder::rollout
