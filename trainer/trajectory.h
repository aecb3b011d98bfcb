// What the learner trains on: one sampled response to a prompt, scored. Plain C++.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace ponder::trainer {

// One sampled response to a prompt, scored.
struct Trajectory {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> response_ids;
  // The rollout policy's log-prob of each response token (empty when not recorded; required
  // when trainer.recompute_logprobs is false).
  std::vector<float> behaviour_log_probs;
  double score = 0.0;           // the reward
  std::optional<bool> correct;  // the verifier's verdict, where it has one
  bool truncated = false;       // stopped by the length limit, not by an end token
  int64_t group = 0;            // the samples of one prompt share it
};

}  // namespace ponder::trainer
