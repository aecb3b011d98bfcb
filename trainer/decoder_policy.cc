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
  // Only positions with a target go through the vocabulary-sized head (prompt and padding
  // positions are skipped); their results are scattered back into [B, L].
  const int64_t B = tokens.size(0), L = tokens.size(1);
  at::Tensor flat_targets = targets.reshape({-1}).to(hidden.device());
  at::Tensor rows = flat_targets.ge(0).nonzero().squeeze(1);
  at::Tensor picked = hidden.reshape({B * L, hidden.size(2)}).index_select(0, rows);
  model::TokenStatsOptions options;
  options.entropy = with_entropy;
  options.chunk_tokens = chunk_tokens_;
  options.keep_logits_bytes = keep_logits_bytes_;
  PONDER_ASSIGN_OR_RETURN(
      model::TokenStats stats,
      decoder_->TokenLogProbs(picked.unsqueeze(0), flat_targets.index_select(0, rows).unsqueeze(0),
                              options));
  auto scatter = [&](const at::Tensor& values) {
    at::Tensor out = at::zeros({B * L}, values.options());
    return out.index_put({rows}, values.reshape({-1})).reshape({B, L});
  };
  TokenScores scores;
  scores.log_probs = scatter(stats.log_probs);
  if (with_entropy) scores.entropy = scatter(stats.entropy);
  return scores;
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
