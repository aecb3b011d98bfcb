// Chat templates: render system/user/assistant messages into the prompt text a model family
// was trained on. A small, explicit renderer per family, no general Jinja engine:
//   - ChatML as Qwen uses it (`<|im_start|>role\n...<|im_end|>\n`), with Qwen3's `<think>`
//     handling: reasoning of earlier turns is dropped, the last turn keeps it, and
//     enable_thinking=false puts an empty think block into the generation prompt;
//   - LLaMA-2 chat (`<s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] answer </s>`);
//   - plain: the contents joined by blank lines (base models, built-in tasks).
// The family is chosen by config or detected from the chat_template of tokenizer_config.json.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/config.h"

namespace ponder::model {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatFormat { kPlain, kChatML, kLlama2 };

// `model.chat_template:`-style options (embedded by the model section of a job config).
struct ChatTemplateOptions {
  // auto: detect from tokenizer_config.json beside the tokenizer (plain when there is none);
  // or chatml, llama2, plain.
  std::string format = "auto";
  // ChatML with <think> (Qwen3): false asks the model to answer without reasoning.
  bool enable_thinking = true;

  void Bind(config::Binder& b);
};

class ChatTemplate {
 public:
  // A template of a given format. `think` selects Qwen3's <think> handling for ChatML;
  // `default_system` is the system prompt used when the messages bring none (Qwen2.5's).
  ChatTemplate(ChatFormat format, bool enable_thinking, bool think = false,
               std::string default_system = "");

  // Resolves `options` for the tokenizer at `tokenizer_path` (a model folder or a file in
  // one): format auto reads `tokenizer_config.json` there and recognises the family from its
  // chat_template. An unrecognised template is an error that asks for an explicit format.
  static absl::StatusOr<ChatTemplate> Create(const ChatTemplateOptions& options,
                                             const std::string& tokenizer_path);

  // Renders the conversation; with `add_generation_prompt` it ends where the assistant's
  // answer starts. Unknown roles (and, for LLaMA-2, turns that do not alternate user /
  // assistant) are InvalidArgument errors naming the message.
  absl::StatusOr<std::string> Render(absl::Span<const ChatMessage> messages,
                                     bool add_generation_prompt = true) const;

  ChatFormat format() const { return format_; }
  // The text that ends an assistant turn ("<|im_end|>", "</s>"; empty for plain), for stop
  // conditions.
  std::string end_of_turn() const;
  std::string Describe() const;

 private:
  absl::StatusOr<std::string> RenderChatML(absl::Span<const ChatMessage> messages,
                                           bool add_generation_prompt) const;
  absl::StatusOr<std::string> RenderLlama2(absl::Span<const ChatMessage> messages) const;

  ChatFormat format_;
  bool enable_thinking_;
  bool think_;
  std::string default_system_;
};

}  // namespace ponder::model
