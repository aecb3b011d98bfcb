#include "trainer/decoder_policy.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "base/status.h"

namespace ponder::trainer {

absl::StatusOr<TokenScores> DecoderPolicy::Score(const at::Tensor& tokens,
                                                 const at::Tensor& attention_mask,
                                                 const at::Tensor& targets, bool with_entropy) {
  // Malformed input takes the ordinary path, whose checks name it.
  if (share_prompts_ && tokens.dim() == 2 && targets.sizes() == tokens.sizes() &&
      at::isIntegralType(tokens.scalar_type(), /*includeBool=*/false)) {
    std::vector<int64_t> sources, rows;
    if (std::optional<model::SharedPromptBatch> shared =
            SharePrompts(tokens, attention_mask, targets, &sources, &rows)) {
      PONDER_ASSIGN_OR_RETURN(at::Tensor hidden, decoder_->HiddenSharedPrompts(*shared));
      const auto opts = at::TensorOptions().dtype(at::kLong);
      return ScoreRows(hidden, at::tensor(sources, opts).to(hidden.device()),
                       at::tensor(rows, opts).to(hidden.device()),
                       targets.reshape({-1}).to(hidden.device(), at::kLong), tokens.size(0),
                       tokens.size(1), with_entropy);
    }
  }
  model::BatchLayout layout;
  layout.attention_mask = attention_mask;
  PONDER_ASSIGN_OR_RETURN(at::Tensor hidden, decoder_->Hidden(tokens, layout));
  // Only positions with a target go through the vocabulary-sized head (prompt and padding
  // positions are skipped); their results are scattered back into [B, L].
  const int64_t B = tokens.size(0), L = tokens.size(1);
  at::Tensor flat_targets = targets.reshape({-1}).to(hidden.device());
  at::Tensor rows = flat_targets.ge(0).nonzero().squeeze(1);
  return ScoreRows(hidden.reshape({B * L, hidden.size(2)}), rows, rows, flat_targets, B, L,
                   with_entropy);
}

absl::StatusOr<TokenScores> DecoderPolicy::ScoreRows(const at::Tensor& hidden,
                                                     const at::Tensor& sources,
                                                     const at::Tensor& rows,
                                                     const at::Tensor& flat_targets, int64_t B,
                                                     int64_t L, bool with_entropy) {
  at::Tensor picked = hidden.index_select(0, sources);
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

std::optional<model::SharedPromptBatch> DecoderPolicy::SharePrompts(
    const at::Tensor& tokens, const at::Tensor& attention_mask, const at::Tensor& targets,
    std::vector<int64_t>* sources, std::vector<int64_t>* rows) {
  const int64_t B = tokens.size(0), L = tokens.size(1);
  at::Tensor tok = tokens.to(at::kCPU, at::kLong).contiguous();
  at::Tensor tgt = targets.to(at::kCPU, at::kLong).contiguous();
  at::Tensor real = attention_mask.defined() ? attention_mask.to(at::kCPU).ne(0).contiguous()
                                             : at::ones({B, L}, at::kBool);
  if (tok.numel() > 0 && (tok.min().item<int64_t>() < 0 ||
                          tok.max().item<int64_t>() >= decoder_->config().vocab_size)) {
    return std::nullopt;
  }
  const int64_t* t = tok.data_ptr<int64_t>();
  const int64_t* g = tgt.data_ptr<int64_t>();
  const bool* m = real.data_ptr<bool>();
  // A row's prompt: its tokens up to and including the position of its first target (whose
  // hidden state predicts the first response token); its response: the real tokens after.
  struct Row {
    int64_t b, first, len, prompt;
  };
  std::vector<Row> samples;
  std::map<std::vector<int64_t>, int64_t> prompt_of;
  std::vector<int64_t> prompt_sample;  // a sample of each prompt
  for (int64_t b = 0; b < B; ++b) {
    int64_t len = 0;
    while (len < L && m[b * L + len]) ++len;
    for (int64_t j = len; j < L; ++j) {
      if (m[b * L + j] || g[b * L + j] >= 0) return std::nullopt;  // not right-padded
    }
    int64_t first = 0;
    while (first < len && g[b * L + first] < 0) ++first;
    if (first == len) continue;  // nothing to score in this row
    std::vector<int64_t> key(t + b * L, t + b * L + first + 1);
    auto [it, added] = prompt_of.emplace(std::move(key), static_cast<int64_t>(prompt_of.size()));
    if (added) prompt_sample.push_back(static_cast<int64_t>(samples.size()));
    samples.push_back({b, first, len, it->second});
  }
  const int64_t G = static_cast<int64_t>(prompt_of.size());
  const int64_t N = static_cast<int64_t>(samples.size());
  if (N == 0 || G == N) return std::nullopt;
  int64_t P = 0, R = 1;
  for (const Row& r : samples) {
    P = std::max(P, r.first + 1);
    R = std::max(R, r.len - r.first - 1);
  }
  at::Tensor prompt_ids = at::zeros({G, P}, at::kLong), prompt_mask = at::zeros({G, P}, at::kLong);
  at::Tensor response_ids = at::zeros({N, R}, at::kLong);
  at::Tensor response_mask = at::zeros({N, R}, at::kLong);
  at::Tensor response_prompt = at::empty({N}, at::kLong);
  int64_t* pi = prompt_ids.data_ptr<int64_t>();
  int64_t* pm = prompt_mask.data_ptr<int64_t>();
  int64_t* ri = response_ids.data_ptr<int64_t>();
  int64_t* rm = response_mask.data_ptr<int64_t>();
  int64_t* rp = response_prompt.data_ptr<int64_t>();
  for (int64_t p = 0; p < G; ++p) {
    const Row& r = samples[prompt_sample[p]];
    for (int64_t j = 0; j <= r.first; ++j) {
      pi[p * P + j] = t[r.b * L + j];
      pm[p * P + j] = 1;
    }
  }
  for (int64_t n = 0; n < N; ++n) {
    const Row& r = samples[n];
    rp[n] = r.prompt;
    for (int64_t j = r.first + 1; j < r.len; ++j) {
      ri[n * R + j - r.first - 1] = t[r.b * L + j];
      rm[n * R + j - r.first - 1] = 1;
    }
    for (int64_t j = r.first; j < r.len; ++j) {
      if (g[r.b * L + j] < 0) continue;
      sources->push_back(j == r.first ? r.prompt * P + j : G * P + n * R + (j - r.first - 1));
      rows->push_back(r.b * L + j);
    }
  }
  return model::SharedPromptBatch{.prompt_ids = prompt_ids,
                                  .prompt_mask = prompt_mask,
                                  .response_ids = response_ids,
                                  .response_mask = response_mask,
                                  .response_prompt = response_prompt};
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
