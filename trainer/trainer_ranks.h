// The job's side of data parallelism (DESIGN.md §2): when the environment names several
// trainer ranks (trainer/distributed_options.h), every rank runs `ponder train`; rank 0 is the
// controller -- it alone talks to rollout and reward, writes metrics and checkpoints -- and
// sends each step's scored batch to the others, which run the same learner step on their share
// of it (trainer/data_parallel.h) until rank 0 ends the job.
//
//   PONDER_ASSIGN_OR_RETURN(auto ranks, TrainerRanks::Join(job.distributed, on_gpu));
//   job.model.device = ranks->ModelDevice(job.model.device);
//   learner_options.data_parallel = ranks ? ranks->data_parallel() : nullptr;
//   ... models loaded (fresh or from the checkpoint every rank reads) ...
//   PONDER_RETURN_IF_ERROR(ranks->ShareModels(models));
//   if (!ranks->is_controller()) return ranks->Follow(*learner, &step);
//   ... rank 0: ranks->Lead(run_steps), where each step calls ranks->SendBatch(step, batch)
//   before its own learner step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/data_parallel.h"
#include "trainer/distributed.h"
#include "trainer/learner.h"
#include "trainer/training_models.h"

namespace ponder::trainer {

class TrainerRanks {
 public:
  // Null (and OK) when the environment names one rank.
  static absl::StatusOr<std::unique_ptr<TrainerRanks>> Join(const DistributedOptions& options,
                                                            bool cuda);

  bool is_controller() const { return group_->rank() == 0; }
  int64_t local_rank() const { return env_.local_rank; }
  RankGroup& group() { return *group_; }
  DataParallel* data_parallel() { return &data_parallel_; }

  // The device of this rank's models: on several GPUs of a node, "cuda" is cuda:LOCAL_RANK.
  std::string ModelDevice(const std::string& device) const;
  // Rank 0's values of `parameters` on every rank (the same models in the same order).
  absl::Status ShareWeights(const std::vector<at::Tensor>& parameters);
  // Rank 0's policy and critic weights on every rank.
  absl::Status ShareModels(const TrainingModels& models);
  // Rank 0: the batch of (0-based) step `step`, before its own learner step on it.
  absl::Status SendBatch(int64_t step, const std::vector<Trajectory>& batch);
  // Rank 0: the end of the job (`cancelled`: stopped by a signal), then the last barrier.
  absl::Status SendEnd(bool cancelled);
  // Rank 0: runs the job's steps, then ends the job on every rank: SendEnd when they ran or
  // were stopped (Cancelled), or the others end with rank 0's error. Returns the steps' status.
  absl::Status Lead(const std::function<absl::Status()>& run_steps);
  // The other ranks: learner steps on rank 0's batches until it ends the job. `*step` counts
  // the completed steps. Cancelled when rank 0 was stopped early.
  absl::Status Follow(Learner& learner, int64_t* step);

 private:
  TrainerRanks(RankEnv env, std::unique_ptr<RankGroup> group, double bucket_mb);
  RankEnv env_;
  std::unique_ptr<RankGroup> group_;
  DataParallel data_parallel_;
};

}  // namespace ponder::trainer
