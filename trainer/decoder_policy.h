// The learner's model interfaces (policy.h) over model::Decoder: the training forward of the
// policy (per-token log-probs and entropy, computed by the decoder in vocabulary chunks) and
// a critic (a decoder with a value head).
//
//   model::Decoder policy = ...;                       // trained
//   model::Decoder reference = model::CloneDecoder(policy, /*frozen=*/true);
//   DecoderPolicy actor(policy), ref(reference);
//   DecoderCritic critic(critic_decoder);              // built with {.value_head = true}
//   Learner::Create(algorithm, trainer, {...}, &actor, &ref, &critic);
#pragma once

#include <optional>
#include <vector>

#include "model/decoder.h"
#include "trainer/policy.h"

namespace ponder::trainer {

class DecoderPolicy : public TrainablePolicy {
 public:
  // `chunk_tokens` and `keep_logits_mb`: model.logits_chunk_tokens and model.logits_keep_mb.
  explicit DecoderPolicy(model::Decoder decoder, int64_t chunk_tokens = 1024,
                         int64_t keep_logits_mb = 256)
      : decoder_(std::move(decoder)),
        chunk_tokens_(chunk_tokens),
        keep_logits_bytes_(keep_logits_mb << 20) {}
  // Rows that are the same up to their first target (samples of one prompt) run that prompt
  // once (model::SharedPromptBatch), unless set_share_prompts(false).
  absl::StatusOr<TokenScores> Score(const at::Tensor& tokens, const at::Tensor& attention_mask,
                                    const at::Tensor& targets, bool with_entropy) override;
  // Every parameter except a value head's (the policy loss does not train it).
  std::vector<at::Tensor> Parameters() override;
  model::Decoder& decoder() { return decoder_; }
  void set_share_prompts(bool on) { share_prompts_ = on; }

 private:
  // Log-probs (and entropy) of the positions `rows` (flat indices into [B, L], ascending) from
  // `hidden` rows `sources`, scattered into [B, L].
  absl::StatusOr<TokenScores> ScoreRows(const at::Tensor& hidden, const at::Tensor& sources,
                                        const at::Tensor& rows, const at::Tensor& flat_targets,
                                        int64_t B, int64_t L, bool with_entropy);
  // The shared-prompt layout of the batch; nullopt when no two rows share a prompt (or the
  // rows are not right-padded, or hold ids outside the vocabulary).
  std::optional<model::SharedPromptBatch> SharePrompts(const at::Tensor& tokens,
                                                       const at::Tensor& attention_mask,
                                                       const at::Tensor& targets,
                                                       std::vector<int64_t>* sources,
                                                       std::vector<int64_t>* rows);

  model::Decoder decoder_;
  int64_t chunk_tokens_;
  int64_t keep_logits_bytes_;
  bool share_prompts_ = true;
};

class DecoderCritic : public ValueModel {
 public:
  // FailedPrecondition from Values when `decoder` has no value head.
  explicit DecoderCritic(model::Decoder decoder) : decoder_(std::move(decoder)) {}
  absl::StatusOr<at::Tensor> Values(const at::Tensor& tokens,
                                    const at::Tensor& attention_mask) override;
  std::vector<at::Tensor> Parameters() override;
  model::Decoder& decoder() { return decoder_; }

 private:
  model::Decoder decoder_;
};

}  // namespace ponder::trainer
