// One generation round of an RL step, in three parts the controller calls in turn:
//   1. IssuePrompts: the sampled prompts, encoded, as one request (n samples each, each
//      prompt with its own seed); prompts that cannot be encoded or do not fit the context
//      stop the run, or are skipped and counted (data.on_bad_sample: skip);
//   2. GroupTrajectories: the finished samples, decoded and grouped by prompt (paused partial
//      rollouts stay in the rollout's store and come back in a later round);
//   3. ScoreGroups: every sample scored; a sample the verifier cannot score stops the run, or
//      is dropped and counted.
// Counters go into the step's metrics: data/skipped_prompts, rollout/generated_tokens,
// rollout/paused, rollout/resumed, reward/errors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "monitor/metrics.h"
#include "reward/reward_backend.h"
#include "rollout/rollout.h"
#include "trainer/dataset.h"
#include "trainer/job_config.h"
#include "trainer/prompt_encoder.h"

namespace ponder::trainer {

// One scored response of a group.
struct ScoredSample {
  rollout::Trajectory trajectory;
  std::string response;
  reward::VerifyResult result;
};

// The responses to one prompt that finished in this round.
struct Group {
  uint64_t uid = 0;
  int64_t index = 0;  // into the training dataset
  std::vector<int32_t> prompt_ids;
  std::string prompt;
  std::vector<ScoredSample> samples;
  bool kept = false;  // by dynamic sampling (group_filter.h)
};

// Prompts handed to the rollout: how many so far, and those with samples still out (paused
// partial rollouts). Checkpoints keep it.
struct PromptsInFlight {
  uint64_t next_uid = 0;
  // uid -> (dataset index, samples not yet back)
  std::map<uint64_t, std::pair<int64_t, int64_t>> pending;
};

// What the three parts read.
struct RoundContext {
  const JobConfig* job = nullptr;
  const PromptDataset* train = nullptr;
  const PromptEncoder* encoder = nullptr;
  const rollout::SamplingOptions* sampling = nullptr;  // the config's + the stop tokens
  int64_t max_seq_len = 0;
};

// splitmix64: independent, reproducible seeds from (base, index).
uint64_t MixSeed(uint64_t base, uint64_t index);

// The request for the dataset rows `indices` in round `round` of (0-based) step `step`.
absl::StatusOr<rollout::GenerateRequest> IssuePrompts(const RoundContext& context,
                                                      const std::vector<int64_t>& indices,
                                                      int64_t step, int64_t round,
                                                      PromptsInFlight* prompts,
                                                      monitor::Metrics* counts);

// The finished samples of `trajectories` (the answer to `request`), grouped by prompt in uid
// order, samples in sample order.
absl::StatusOr<std::vector<Group>> GroupTrajectories(const RoundContext& context,
                                                     const rollout::GenerateRequest& request,
                                                     std::vector<rollout::Trajectory> trajectories,
                                                     PromptsInFlight* prompts,
                                                     monitor::Metrics* counts);

// Scores every sample of `groups`; samples that failed (when skipped) are dropped, and groups
// left empty with them.
absl::Status ScoreGroups(const RoundContext& context, reward::RewardBackend& reward,
                         std::vector<Group>* groups, monitor::Metrics* counts);

}  // namespace ponder::trainer
