// Per-token detail of a training sample (monitor.token_details): a line of the run directory's
// samples/step_<N>_tokens.jsonl, beside the step's samples/step_<N>.jsonl. The dashboard's
// token view (monitor/web/tokens.js) colours each response token by one of these.
//
//   {"advantage": [per token], "behaviour_logprobs": [per token] | null,
//    "entropy": [per token] | null, "logprobs": [per token], "loss_mask": [0 | 1 per token],
//    "prompt_uid", "sample_index", "step", "token_ids": [...], "tokens": ["text", ...]}
//
// prompt_uid and sample_index name the sample of step_<N>.jsonl it belongs to. "logprobs" are
// the trainer's (pi_old, the log-probs the update's ratio starts from), "behaviour_logprobs"
// the rollout's (null when the rollout did not record them), "entropy" the policy's entropy at
// each position (null when the update computed none for this sample). A value that is not
// finite is written as null. No LibTorch, nothing from trainer/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ponder::monitor {

struct TokenDetailRecord {
  int64_t step = 0;  // the step that trained on the sample (from 1)
  uint64_t prompt_uid = 0;
  int64_t sample_index = 0;
  std::vector<int32_t> token_ids;         // the response's tokens
  std::vector<std::string> tokens;        // the text of each token
  std::vector<float> behaviour_logprobs;  // empty: not recorded
  std::vector<float> logprobs;
  std::vector<float> entropy;  // empty: not computed
  std::vector<float> advantage;
  std::vector<int> loss_mask;  // 1: the token entered the losses
};

nlohmann::json ToJson(const TokenDetailRecord& record);

// How many of a step's `samples` get per-token detail for monitor.token_details = `share`:
// round(share * samples), at least one when share > 0 and there are samples.
int64_t TokenDetailCount(double share, int64_t samples);

}  // namespace ponder::monitor
