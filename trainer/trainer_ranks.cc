#include "trainer/trainer_ranks.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/step_message.h"

namespace ponder::trainer {

TrainerRanks::TrainerRanks(RankEnv env, std::unique_ptr<RankGroup> group, double bucket_mb)
    : env_(std::move(env)), group_(std::move(group)), data_parallel_(group_.get(), bucket_mb) {}

absl::StatusOr<std::unique_ptr<TrainerRanks>> TrainerRanks::Join(const DistributedOptions& options,
                                                                 bool cuda) {
  PONDER_ASSIGN_OR_RETURN(RankEnv env, RankEnvFromEnvironment());
  if (!env.distributed()) return std::unique_ptr<TrainerRanks>();
  PONDER_ASSIGN_OR_RETURN(
      std::unique_ptr<RankGroup> group,
      RankGroup::Create({.env = env, .options = options, .cuda = cuda, .on_lost = nullptr}));
  return std::unique_ptr<TrainerRanks>(
      new TrainerRanks(std::move(env), std::move(group), options.bucket_mb));
}

absl::Status TrainerRanks::ShareWeights(const std::vector<at::Tensor>& parameters) {
  std::vector<at::Tensor> data;
  for (const at::Tensor& p : parameters) data.push_back(p.detach());
  return group_->Broadcast(data, "the initial weights");
}

std::string TrainerRanks::ModelDevice(const std::string& device) const {
  return device == "cuda" ? absl::StrCat("cuda:", env_.local_rank) : device;
}

absl::Status TrainerRanks::ShareModels(const TrainingModels& models) {
  std::vector<at::Tensor> weights = models.actor->Parameters();
  if (models.critic_model) {
    for (const at::Tensor& p : models.critic_model->Parameters()) weights.push_back(p);
  }
  return ShareWeights(weights);
}

absl::Status TrainerRanks::Lead(const std::function<absl::Status()>& run_steps) {
  absl::Status status = run_steps();
  if (status.ok() || absl::IsCancelled(status)) {
    PONDER_RETURN_IF_ERROR(SendEnd(absl::IsCancelled(status)));
  } else {
    group_->Abort(status);  // the others end with rank 0's message
  }
  return status;
}

absl::Status TrainerRanks::SendBatch(int64_t step, const std::vector<Trajectory>& batch) {
  std::string bytes = EncodeStepMessage({StepMessage::Kind::kBatch, step, batch});
  return group_->BroadcastBytes(bytes, absl::StrCat("the batch of step ", step + 1));
}

absl::Status TrainerRanks::SendEnd(bool cancelled) {
  std::string bytes =
      EncodeStepMessage({cancelled ? StepMessage::Kind::kCancel : StepMessage::Kind::kStop, 0, {}});
  PONDER_RETURN_IF_ERROR(group_->BroadcastBytes(bytes, "the end of the job"));
  return group_->Finish();
}

absl::Status TrainerRanks::Follow(Learner& learner, int64_t* step) {
  while (true) {
    std::string bytes;
    PONDER_RETURN_IF_ERROR(
        group_->BroadcastBytes(bytes, absl::StrCat("the batch of step ", *step + 1)));
    absl::StatusOr<StepMessage> message = DecodeStepMessage(bytes);
    if (!message.ok()) {
      group_->Abort(message.status());
      return message.status();
    }
    if (message->kind != StepMessage::Kind::kBatch) {
      PONDER_RETURN_IF_ERROR(group_->Finish());
      if (message->kind == StepMessage::Kind::kCancel) {
        return absl::CancelledError(absl::StrCat("rank 0 stopped the job after step ", *step));
      }
      return absl::OkStatus();
    }
    absl::StatusOr<LearnerStep> out = learner.Step(message->batch, message->step);
    if (!out.ok()) {
      absl::Status status = Annotate(out.status(), absl::StrCat("step ", message->step + 1));
      group_->Abort(status);
      return status;
    }
    *step = message->step + 1;
  }
}

}  // namespace ponder::trainer
