// The rollout side of an RL run: a backend to generate with and a way to hand it new weights,
// whichever kind of rollout the job configures, so that the controller never asks which one
// it holds.
//
//   in process (rollout.addresses empty): the engine runs on the trainer's own policy model,
//     so the weights are shared and Push(v) is a version bump between two decode steps;
//   remote (rollout.addresses: `ponder rollout` workers, a rollout::RolloutPool): Push(v)
//     streams every parameter to every live worker (RolloutBackend::UpdateWeights), and
//     workers that join later get it too.
// In asynchronous mode (trainer.mode: async) the in-process engine runs on a copy of the
// policy instead, and weights reach either kind through the backend's UpdateWeights with a
// snapshot of the version a batch is made with (async_rollout.h); `weights` is then unused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "model/tokenizer.h"
#include "rollout/rollout.h"
#include "rollout/worker_pool.h"
#include "trainer/async_rollout.h"
#include "trainer/job_config.h"

namespace ponder::trainer {

// Brings the rollout up to the trainer's weights.
class WeightSync {
 public:
  virtual ~WeightSync() = default;
  // After it returns OK, the rollout generates with the trainer's current weights, and the
  // tokens they make carry `version` (which only goes up).
  virtual absl::Status Push(int64_t version) = 0;
};

struct RolloutConnection {
  std::unique_ptr<rollout::RolloutBackend> backend;
  std::unique_ptr<WeightSync> weights;         // refers to `backend`
  const rollout::RolloutPool* pool = nullptr;  // `backend` when the workers are remote
  // Prompt plus response tokens a sequence may hold (rollout.max_seq_len, or the worker's).
  int64_t max_seq_len = 0;
  // The directory of paused partial rollouts that checkpoints keep (empty: none, e.g. when
  // the rollout is remote or rollout.partial_store_dir names a store of the user's own).
  std::string partial_rollouts_dir;
};

// Where a run keeps its paused partial rollouts by default: RUN_DIR/partial_rollouts.
std::string RunPartialRolloutsDir(const std::string& run_dir);

// An engine on `policy` itself (its weights shared, no partial-rollout store): what
// evaluation uses in async mode, where the rollout backend holds older weights.
absl::StatusOr<RolloutConnection> SharedWeightsEngine(
    const JobConfig& job, const model::Decoder& policy,
    std::shared_ptr<const model::Tokenizer> tokenizer, int64_t version);

// A copy of `policy`'s parameters, as version `version`.
std::shared_ptr<const WeightVersion> SnapshotWeights(const model::Decoder& policy, int64_t version);

// Starts the in-process engine on `policy` (a copy of it in async mode), or connects to the
// workers and pushes `policy`'s weights to them; either way the rollout then holds weight
// version `version`.
absl::StatusOr<RolloutConnection> ConnectRollout(const JobConfig& job, const model::Decoder& policy,
                                                 std::shared_ptr<const model::Tokenizer> tokenizer,
                                                 int64_t version);

}  // namespace ponder::trainer
