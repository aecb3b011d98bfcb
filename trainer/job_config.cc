#include "trainer/job_config.h"

#include <algorithm>
#include <iterator>

#include "base/logging.h"

namespace ponder::trainer {

void RunOptions::Bind(config::Binder& b) {
  b.Field("name", name).NotEmpty();
  b.Field("dir", dir).NotEmpty();
  b.Field("seed", seed).AtLeast(0);
  b.Field("log_level", log_level)
      .Must(std::find(std::begin(kLogLevels), std::end(kLogLevels), log_level) !=
                std::end(kLogLevels),
            "be one of trace, debug, info, warn, error, off (got '" + log_level + "')");
  b.Field("threads", threads).AtLeast(0);
}

void JobConfig::Bind(config::Binder& b) {
  b.Field("run", run);
  b.Field("model", model);
  b.Field("data", data);
  b.Field("rollout", rollout);
  b.Field("algorithm", algorithm);
  b.Field("trainer", trainer);
  b.Field("reward", reward);
  b.Field("checkpoint", checkpoint);
  b.Field("eval", eval);
  b.Field("monitor", monitor);
  b.Field("distributed", distributed);
  b.Field("sft", sft);
}

absl::Status JobConfig::Validate() const {
  if (trainer.mode == TrainerMode::kAsync && algorithm.filter_groups.enable) {
    return absl::InvalidArgumentError(
        "trainer.mode: async does not support algorithm.filter_groups (DAPO dynamic sampling "
        "draws more prompts until a step's batch is full, which the rollout running ahead "
        "cannot know); use trainer.mode: sync with it");
  }
  return absl::OkStatus();
}

absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  return config::LoadFile<JobConfig>(path, overrides);
}

}  // namespace ponder::trainer
