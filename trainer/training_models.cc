#include "trainer/training_models.h"

#include <filesystem>

#include "base/status.h"
#include "trainer/model_setup.h"

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<DecoderPolicy> MakePolicy(const JobConfig& job, model::Decoder decoder) {
  auto policy = std::make_unique<DecoderPolicy>(std::move(decoder), job.model.logits_chunk_tokens,
                                                job.model.logits_keep_mb);
  policy->set_share_prompts(job.model.share_prompts);
  return policy;
}

absl::StatusOr<model::Decoder> LoadReference(const JobConfig& job, int64_t vocab_size,
                                             const model::Decoder& policy,
                                             const std::string& checkpoint) {
  if (checkpoint.empty()) return model::CloneDecoder(policy, /*frozen=*/true);
  model::ModelOptions options = job.model;
  options.value_head = false;
  PONDER_ASSIGN_OR_RETURN(model::Decoder reference, LoadPolicyModel(options, vocab_size));
  for (auto& p : reference->parameters()) p.set_requires_grad(false);
  return reference;
}

}  // namespace

absl::StatusOr<TrainingModels> LoadTrainingModels(const JobConfig& job, int64_t vocab_size,
                                                  const std::string& checkpoint) {
  TrainingModels out;
  model::ModelOptions policy_options = job.model;
  policy_options.value_head = false;
  if (!checkpoint.empty()) policy_options.path = (fs::path(checkpoint) / "policy").string();
  PONDER_ASSIGN_OR_RETURN(out.policy, LoadTrainedModel(policy_options, vocab_size));
  out.actor = MakePolicy(job, out.policy);
  if (job.algorithm.NeedsReference()) {
    PONDER_ASSIGN_OR_RETURN(out.reference, LoadReference(job, vocab_size, out.policy, checkpoint));
    out.reference_policy = MakePolicy(job, out.reference);
  }
  if (job.algorithm.NeedsCritic()) {
    model::ModelOptions critic_options = job.model;
    critic_options.value_head = true;
    if (!checkpoint.empty()) critic_options.path = (fs::path(checkpoint) / "critic").string();
    PONDER_ASSIGN_OR_RETURN(out.critic, LoadTrainedModel(critic_options, vocab_size));
    out.critic_model = std::make_unique<DecoderCritic>(out.critic);
  }
  return out;
}

}  // namespace ponder::trainer
