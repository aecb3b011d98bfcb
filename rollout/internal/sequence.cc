#include "rollout/internal/sequence.h"

#include <algorithm>
#include <utility>

#include "rollout/sampler.h"

namespace ponder::rollout::internal {

Sequence::Sequence(std::shared_ptr<RequestState> request, std::shared_ptr<const PromptData> prompt,
                   uint32_t sample_index, const model::Tokenizer* tokenizer, int64_t vocab_size)
    : request_(std::move(request)), prompt_(std::move(prompt)), sample_index_(sample_index) {
  return_text_ = request_->return_text;
  const SamplingOptions& s = prompt_->sampling;
  if (tokenizer != nullptr && !s.stop_strings.empty()) {
    model::DecodeOptions options;
    options.skip_special = true;
    stream_ = std::make_unique<model::StreamDecoder>(*tokenizer, options);
  }
  if (s.repetition_penalty != 1.0) {
    seen_.assign(static_cast<size_t>(vocab_size), false);
    for (int32_t id : prompt_->tokens) See(id);
  }
}

Sequence::Sequence(std::shared_ptr<RequestState> request, PausedRollout paused,
                   const model::Tokenizer* tokenizer, int64_t vocab_size)
    : Sequence(std::move(request),
               std::make_shared<PromptData>(
                   PromptData{paused.prompt_index, std::move(paused.prompt), paused.sampling}),
               paused.sample_index, tokenizer, vocab_size) {
  resumed_ = true;
  rounds_ = paused.rounds + 1;
  return_text_ = return_text_ || paused.return_text;
  generated_ = std::move(paused.token_ids);
  logprobs_ = std::move(paused.logprobs);
  segments_ = std::move(paused.segments);
  if (!seen_.empty()) {
    for (int32_t id : generated_) See(id);
  }
  if (stream_) {
    for (int32_t id : generated_) stream_->Push(id, &text_).IgnoreError();
  }
}

void Sequence::See(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= seen_.size() || seen_[static_cast<size_t>(id)]) return;
  seen_[static_cast<size_t>(id)] = true;
  seen_ids_.push_back(id);
}

std::optional<FinishReason> Sequence::Append(int32_t token, float logprob, int64_t version,
                                             int64_t max_seq_len) {
  const uint32_t index = static_cast<uint32_t>(generated_.size());
  generated_.push_back(token);
  logprobs_.push_back(logprob);
  if (segments_.empty() || segments_.back().weight_version != version) {
    segments_.push_back({version, index, index});
  }
  segments_.back().end = index + 1;
  ++round_generated_;
  if (!seen_.empty()) See(token);
  const SamplingOptions& s = prompt_->sampling;
  if (std::find(s.stop_token_ids.begin(), s.stop_token_ids.end(), token) !=
      s.stop_token_ids.end()) {
    return FinishReason::kStop;
  }
  if (stream_) {
    const size_t before = text_.size();
    stream_->Push(token, &text_).IgnoreError();  // ids were checked against the vocabulary
    if (text_.size() > before && HasStopString(text_, before, s.stop_strings)) {
      return FinishReason::kStop;
    }
  }
  if (EndsWithRepetition(generated_, s.repeat_ngram, s.repeat_count)) return FinishReason::kRepeat;
  if (static_cast<int64_t>(generated_.size()) >= s.max_new_tokens || context_len() >= max_seq_len) {
    return FinishReason::kLength;
  }
  if (s.round_token_budget > 0 && round_generated_ >= s.round_token_budget) {
    return FinishReason::kPaused;
  }
  return std::nullopt;
}

Trajectory Sequence::ToTrajectory(FinishReason reason, int64_t current_version,
                                  const model::Tokenizer* tokenizer) const {
  Trajectory t;
  t.prompt_index = prompt_->prompt_index;
  t.sample_index = sample_index_;
  t.token_ids = generated_;
  t.logprobs = logprobs_;
  t.finish_reason = reason;
  t.segments = segments_;
  t.weight_version = segments_.empty() ? current_version : segments_.back().weight_version;
  t.prompt_tokens = static_cast<uint32_t>(prompt_->tokens.size());
  if (return_text_ && tokenizer != nullptr) {
    model::DecodeOptions options;
    options.skip_special = true;
    absl::StatusOr<std::string> text = tokenizer->Decode(generated_, options);
    if (text.ok()) t.text = std::move(*text);
  }
  return t;
}

PausedRollout Sequence::ToPaused() const {
  PausedRollout p;
  p.prompt_index = prompt_->prompt_index;
  p.sample_index = sample_index_;
  p.prompt = prompt_->tokens;
  p.sampling = prompt_->sampling;
  p.token_ids = generated_;
  p.logprobs = logprobs_;
  p.segments = segments_;
  p.return_text = return_text_;
  p.rounds = rounds_;
  return p;
}

}  // namespace ponder::rollout::internal
