// From dataset prompts to the token ids the policy reads, and from generated ids back to the
// text the verifiers score.
//
// A prompt given as text is encoded as it is; one given as chat messages is rendered with the
// chat template first (model/chat_template.h). The tokenizer's BOS goes in front when it has
// one (Qwen's has none). Responses stop at the tokenizer's EOS and at the chat template's
// end-of-turn token; both are among StopTokenIds().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "trainer/dataset.h"

namespace ponder::trainer {

class PromptEncoder {
 public:
  // `tokenizer_path` is where the tokenizer came from (a model folder or file): the chat
  // template's format `auto` looks for tokenizer_config.json there.
  static absl::StatusOr<PromptEncoder> Create(std::shared_ptr<const model::Tokenizer> tokenizer,
                                              const model::ChatTemplateOptions& chat,
                                              const std::string& tokenizer_path);

  // The prompt as the model sees it, before tokenization. Errors name record.origin.
  absl::StatusOr<std::string> PromptText(const PromptRecord& record) const;
  // PromptText, tokenized, with BOS when the tokenizer has one. Errors name record.origin.
  absl::StatusOr<std::vector<int32_t>> Encode(const PromptRecord& record) const;
  // The generated tokens as text for the verifiers, without special tokens (the final EOS).
  absl::StatusOr<std::string> DecodeResponse(const std::vector<int32_t>& ids) const;
  // Token ids that end a response: EOS and the chat template's end-of-turn token.
  const std::vector<int32_t>& stop_token_ids() const { return stop_token_ids_; }

  const model::Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const model::Tokenizer> shared_tokenizer() const { return tokenizer_; }

 private:
  PromptEncoder(std::shared_ptr<const model::Tokenizer> tokenizer, model::ChatTemplate chat);

  std::shared_ptr<const model::Tokenizer> tokenizer_;
  model::ChatTemplate chat_;
  std::vector<int32_t> stop_token_ids_;
};

}  // namespace ponder::trainer
