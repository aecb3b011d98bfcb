// The engine a `ponder rollout` worker serves for a job config: the model of model.path, or,
// for a model built from model.init (the built-in tasks' tiny ones), fresh weights of that
// shape, which the trainer replaces before the worker gets any work (rollout::RolloutPool).
// Plain header: the CLI includes it without LibTorch.
#pragma once

#include "absl/status/statusor.h"
#include "rollout/engine.h"
#include "trainer/job_config.h"

namespace ponder::trainer {

absl::StatusOr<rollout::LoadedEngine> LoadWorkerEngine(const JobConfig& job);

}  // namespace ponder::trainer
