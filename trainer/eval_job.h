// `ponder eval`: a model on a held-out set, outside of training (trainer/evaluation.h for the
// metrics). The set is a JSONL file in the data: section's row layout, or `builtin:<task>`
// for a built-in task's held-out split (the data.task options decide its levels and size).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "trainer/evaluation.h"
#include "trainer/job_config.h"

namespace ponder::trainer {

// Evaluates job.model on `data` ("builtin:<task>" or a JSONL path) with the eval:, rollout:
// and reward: sections of `job`. Errors name the model, the file and line, or the option.
absl::StatusOr<EvalReport> EvaluateModel(const JobConfig& job, const std::string& data);

}  // namespace ponder::trainer
