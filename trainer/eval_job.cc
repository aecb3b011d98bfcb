#include "trainer/eval_job.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/decoder.h"
#include "reward/reward_backend.h"
#include "rollout/engine.h"
#include "trainer/builtin_task.h"
#include "trainer/model_setup.h"
#include "trainer/prompt_encoder.h"

namespace ponder::trainer {

absl::StatusOr<EvalReport> EvaluateModel(const JobConfig& job, const std::string& data) {
  if (job.run.threads > 0) at::set_num_threads(static_cast<int>(job.run.threads));
  EvalSet set;
  if (absl::StartsWith(data, "builtin:")) {
    BuiltinTaskOptions task_options = job.data.task;
    task_options.name = data.substr(8);
    PONDER_ASSIGN_OR_RETURN(std::unique_ptr<BuiltinTask> task, MakeBuiltinTask(task_options));
    PONDER_ASSIGN_OR_RETURN(TaskSplits splits, GenerateTaskSplits(*task, task_options));
    set.name = task->name();
    set.prompts = std::move(splits.val);
  } else {
    PONDER_ASSIGN_OR_RETURN(set.prompts, PromptDataset::LoadJsonl(data, job.data.format));
    set.name = std::filesystem::path(data).stem().string();
  }
  PONDER_ASSIGN_OR_RETURN(JobTokenizer loaded, LoadJobTokenizer(job.model));
  const std::shared_ptr<const model::Tokenizer>& tokenizer = loaded.tokenizer;
  const PromptEncoder& encoder = loaded.encoder;
  torch::manual_seed(job.run.seed);
  PONDER_ASSIGN_OR_RETURN(model::Decoder policy,
                          LoadPolicyModel(job.model, tokenizer->vocab_size()));
  PONDER_ASSIGN_OR_RETURN(
      std::unique_ptr<rollout::RolloutEngine> engine,
      rollout::RolloutEngine::Create(policy.ptr(), rollout::EngineOptions::FromConfig(job.rollout),
                                     tokenizer));
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<reward::RewardBackend> reward,
                          reward::MakeRewardBackend(job.reward));
  rollout::SamplingOptions sampling = job.rollout.sampling;
  for (int32_t id : encoder.stop_token_ids()) sampling.stop_token_ids.push_back(id);
  EvalContext context{.rollout = engine.get(),
                      .reward = reward.get(),
                      .encoder = &encoder,
                      .sampling = sampling,
                      .max_seq_len = engine->max_seq_len()};
  return Evaluate(set, job.eval, context, static_cast<uint64_t>(job.run.seed));
}

}  // namespace ponder::trainer
