#include "trainer/prompt_encoder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::trainer {

PromptEncoder::PromptEncoder(std::shared_ptr<const model::Tokenizer> tokenizer,
                             model::ChatTemplate chat)
    : tokenizer_(std::move(tokenizer)), chat_(std::move(chat)) {
  auto add_stop = [this](std::optional<int32_t> id) {
    if (id.has_value() &&
        std::find(stop_token_ids_.begin(), stop_token_ids_.end(), *id) == stop_token_ids_.end()) {
      stop_token_ids_.push_back(*id);
    }
  };
  add_stop(tokenizer_->eos_id());
  const std::string end_of_turn = chat_.end_of_turn();
  if (!end_of_turn.empty()) add_stop(tokenizer_->TokenToId(end_of_turn));
}

absl::StatusOr<PromptEncoder> PromptEncoder::Create(
    std::shared_ptr<const model::Tokenizer> tokenizer, const model::ChatTemplateOptions& chat,
    const std::string& tokenizer_path) {
  if (tokenizer == nullptr) return absl::InvalidArgumentError("PromptEncoder needs a tokenizer");
  PONDER_ASSIGN_OR_RETURN(model::ChatTemplate chat_template,
                          model::ChatTemplate::Create(chat, tokenizer_path));
  return PromptEncoder(std::move(tokenizer), std::move(chat_template));
}

absl::StatusOr<std::string> PromptEncoder::PromptText(const PromptRecord& record) const {
  if (record.messages.empty()) return record.text;
  std::vector<model::ChatMessage> messages;
  messages.reserve(record.messages.size());
  for (const ChatMessage& m : record.messages) messages.push_back({m.role, m.content});
  absl::StatusOr<std::string> text = chat_.Render(messages, /*add_generation_prompt=*/true);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat("prompt ", record.origin));
  return text;
}

absl::StatusOr<std::vector<int32_t>> PromptEncoder::Encode(const PromptRecord& record) const {
  PONDER_ASSIGN_OR_RETURN(std::string text, PromptText(record));
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt ", record.origin, " is empty"));
  }
  absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text, {.add_bos = true});
  if (!ids.ok()) return Annotate(ids.status(), absl::StrCat("prompt ", record.origin));
  return ids;
}

absl::StatusOr<std::string> PromptEncoder::DecodeResponse(const std::vector<int32_t>& ids) const {
  return tokenizer_->Decode(ids, {.skip_special = true});
}

}  // namespace ponder::trainer
