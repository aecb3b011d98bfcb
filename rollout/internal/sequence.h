// The scheduler's record of one sample (plain C++): its prompt, what it generated so far and
// the per-token bookkeeping that decides when it stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "model/tokenizer.h"
#include "rollout/partial_rollout_store.h"
#include "rollout/rollout.h"

namespace ponder::rollout::internal {

// One StartGenerate call as the scheduler sees it.
struct RequestState {
  uint64_t id = 0;
  GenerateCallbacks callbacks;
  bool return_text = false;
  absl::Time deadline = absl::InfiniteFuture();
  std::atomic<bool> cancelled{false};  // set by GenerateCall::Cancel from any thread
  // Scheduler thread only:
  int64_t outstanding = 0;  // samples not yet delivered
  absl::Status end_status;  // what on_done gets (OK unless cancelled, expired or failed)
  bool done = false;
};

struct PromptData {
  uint64_t prompt_index = 0;
  std::vector<int32_t> tokens;
  SamplingOptions sampling;
};

class Sequence {
 public:
  // A new sample. `tokenizer` may be null (then stop strings are not checked).
  Sequence(std::shared_ptr<RequestState> request, std::shared_ptr<const PromptData> prompt,
           uint32_t sample_index, const model::Tokenizer* tokenizer, int64_t vocab_size);
  // A paused sample, resumed by `request`.
  Sequence(std::shared_ptr<RequestState> request, PausedRollout paused,
           const model::Tokenizer* tokenizer, int64_t vocab_size);

  RequestState& request() const { return *request_; }
  const std::shared_ptr<RequestState>& request_ptr() const { return request_; }
  const PromptData& prompt() const { return *prompt_; }
  const SamplingOptions& sampling() const { return prompt_->sampling; }
  uint32_t sample_index() const { return sample_index_; }
  bool resumed() const { return resumed_; }
  const std::vector<int32_t>& generated() const { return generated_; }

  // Prompt + generated tokens: what the KV cache must hold before the next token.
  int64_t context_len() const {
    return static_cast<int64_t>(prompt_->tokens.size() + generated_.size());
  }
  int32_t context_token(int64_t i) const {
    const int64_t p = static_cast<int64_t>(prompt_->tokens.size());
    return i < p ? prompt_->tokens[static_cast<size_t>(i)] : generated_[static_cast<size_t>(i - p)];
  }

  // Distinct ids of the context, for the repetition penalty (empty when it is off).
  const std::vector<int32_t>& seen_ids() const { return seen_ids_; }

  // Records a sampled token under weight `version` and returns why the sample ends now, if it
  // does: a stop token or string, a repetition, max_new_tokens or the context limit, or (last)
  // the round's token budget (kPaused).
  std::optional<FinishReason> Append(int32_t token, float logprob, int64_t version,
                                     int64_t max_seq_len);

  // The trajectory as delivered; `text` is filled when asked and a tokenizer is given.
  Trajectory ToTrajectory(FinishReason reason, int64_t current_version,
                          const model::Tokenizer* tokenizer) const;
  PausedRollout ToPaused() const;

  // Scheduler state.
  int64_t slot = -1;                                 // KV cache slot, -1 when none
  int64_t fed = 0;                                   // context tokens already in the slot
  bool decoding = false;                             // sampled at least once since it got its slot
  std::vector<std::unique_ptr<Sequence>> followers;  // samples waiting to fork this one's prefill

 private:
  void See(int32_t id);

  std::shared_ptr<RequestState> request_;
  std::shared_ptr<const PromptData> prompt_;
  uint32_t sample_index_ = 0;
  bool resumed_ = false;
  int64_t rounds_ = 1;
  int64_t round_generated_ = 0;
  std::vector<int32_t> generated_;
  std::vector<float> logprobs_;
  std::vector<Segment> segments_;
  bool return_text_ = false;
  // Stop strings.
  std::unique_ptr<model::StreamDecoder> stream_;
  std::string text_;
  // Repetition penalty.
  std::vector<bool> seen_;
  std::vector<int32_t> seen_ids_;
};

}  // namespace ponder::rollout::internal
