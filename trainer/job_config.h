// The job config: one YAML file per job (DESIGN.md §5), one section per component. Each
// section's options struct lives with its component; this file gathers them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "model/model_options.h"
#include "monitor/monitor_options.h"
#include "reward/reward_options.h"
#include "rollout/rollout_options.h"
#include "trainer/algorithm_options.h"
#include "trainer/checkpoint.h"
#include "trainer/data_options.h"
#include "trainer/distributed_options.h"
#include "trainer/evaluation.h"
#include "trainer/sft.h"
#include "trainer/trainer_options.h"

namespace ponder::trainer {

// `run:` — identity and housekeeping of one job.
struct RunOptions {
  std::string name = "ponder";
  std::string dir = "runs/ponder";  // the run directory: config, metrics, samples, checkpoints
  int64_t seed = 1;
  std::string log_level = "info";
  int64_t threads = 0;  // LibTorch intra-op threads (0: LibTorch's default, one per core)

  void Bind(config::Binder& b);
};

struct JobConfig {
  RunOptions run;
  model::ModelOptions model;        // model/model_options.h
  DataOptions data;                 // trainer/data_options.h
  rollout::RolloutOptions rollout;  // rollout/rollout_options.h
  AlgorithmOptions algorithm;       // trainer/algorithm_options.h
  TrainerOptions trainer;           // trainer/trainer_options.h
  reward::RewardOptions reward;     // reward/reward_options.h
  CheckpointOptions checkpoint;     // trainer/checkpoint.h
  EvalOptions eval;                 // trainer/evaluation.h
  monitor::MonitorOptions monitor;  // monitor/monitor_options.h
  DistributedOptions distributed;   // trainer/distributed_options.h
  SftOptions sft;                   // trainer/sft.h (`ponder sft` only)

  void Bind(config::Binder& b);
  absl::Status Validate() const;  // rules across sections
};

// Loads a job file and applies dotted `key=value` overrides.
absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path,
                                        const std::vector<std::string>& overrides = {});

}  // namespace ponder::trainer
