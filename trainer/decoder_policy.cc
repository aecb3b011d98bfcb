#include "trainer/decoder_policy.h"

#include <ATen/ATen.h>

#include "absl/strings/match.h"
#include "base/status.h"

namespace ponder::trainer {

absl::StatusOr<TokenScores> DecoderPolicy::Score(const at::Tensor& tokens,
                                                 const at::Tensor& attention_mask,
                                                 const at::Tensor& targets, bool with_entropy) {
  model::BatchLayout layout;
  layout.attention_mask = attention_mask;
  PONDER_ASSIGN_OR_RETURN(at::Tensor hidden, decoder_->Hidden(tokens, layout));
  model::TokenStatsOptions options;
  options.entropy = with_entropy;
  options.chunk_tokens = chunk_tokens_;
  PONDER_ASSIGN_OR_RETURN(model::TokenStats stats,
                          decoder_->TokenLogProbs(hidden, targets, options));
  return TokenScores{stats.log_probs, stats.entropy};
}

std::vector<at::Tensor> DecoderPolicy::Parameters() {
  std::vector<at::Tensor> out;
  for (const auto& item : decoder_->named_parameters()) {
    if (!absl::StartsWith(item.key(), "value_head.")) out.push_back(item.value());
  }
  return out;
}

absl::StatusOr<at::Tensor> DecoderCritic::Values(const at::Tensor& tokens,
                                                 const at::Tensor& attention_mask) {
  model::BatchLayout layout;
  layout.attention_mask = attention_mask;
  PONDER_ASSIGN_OR_RETURN(at::Tensor hidden, decoder_->Hidden(tokens, layout));
  return decoder_->Values(hidden);
}

std::vector<at::Tensor> DecoderCritic::Parameters() { return decoder_->parameters(); }

}  // namespace ponder::trainer
