#include "model/chat_template.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/status.h"

namespace ponder::model {
namespace {

constexpr const char* kWhitespace = " \t\n\r\f\v";

std::string_view Strip(std::string_view s, const char* chars) {
  size_t begin = s.find_first_not_of(chars);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(chars);
  return s.substr(begin, end - begin + 1);
}

std::string_view LStrip(std::string_view s, const char* chars) {
  size_t begin = s.find_first_not_of(chars);
  return begin == std::string_view::npos ? std::string_view() : s.substr(begin);
}

std::string_view RStrip(std::string_view s, const char* chars) {
  size_t end = s.find_last_not_of(chars);
  return end == std::string_view::npos ? std::string_view() : s.substr(0, end + 1);
}

absl::Status CheckRole(const ChatMessage& m, size_t index) {
  if (m.role == "system" || m.role == "user" || m.role == "assistant") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("message ", index, " has role '", m.role,
                                                 "'; expected system, user or assistant"));
}

}  // namespace

void ChatTemplateOptions::Bind(config::Binder& b) {
  b.Field("format", format)
      .Must(format == "auto" || format == "chatml" || format == "llama2" || format == "plain",
            "be one of auto, chatml, llama2, plain");
  b.Field("enable_thinking", enable_thinking);
}

ChatTemplate::ChatTemplate(ChatFormat format, bool enable_thinking, bool think,
                           std::string default_system)
    : format_(format),
      enable_thinking_(enable_thinking),
      think_(think),
      default_system_(std::move(default_system)) {}

absl::StatusOr<ChatTemplate> ChatTemplate::Create(const ChatTemplateOptions& options,
                                                  const std::string& tokenizer_path) {
  if (options.format == "plain") return ChatTemplate(ChatFormat::kPlain, options.enable_thinking);
  if (options.format == "llama2") {
    return ChatTemplate(ChatFormat::kLlama2, options.enable_thinking);
  }
  if (options.format == "chatml") {
    return ChatTemplate(ChatFormat::kChatML, options.enable_thinking, /*think=*/true);
  }
  if (options.format != "auto") {
    return absl::InvalidArgumentError(absl::StrCat("unknown chat template format '", options.format,
                                                   "'; expected auto, chatml, llama2 or plain"));
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::is_directory(tokenizer_path, ec) ? fs::path(tokenizer_path)
                                                      : fs::path(tokenizer_path).parent_path();
  fs::path config_path = dir / "tokenizer_config.json";
  absl::StatusOr<std::string> config_text = file::ReadFile(config_path.string());
  if (absl::IsNotFound(config_text.status())) {
    return ChatTemplate(ChatFormat::kPlain, options.enable_thinking);
  }
  if (!config_text.ok()) return config_text.status();
  nlohmann::json config = nlohmann::json::parse(*config_text, nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path.string(), ": not a JSON object; cannot detect the chat template"));
  }
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) {
    return ChatTemplate(ChatFormat::kPlain, options.enable_thinking);
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path.string(),
        ": chat_template is not a string (named templates are not supported); set the chat "
        "template format explicitly (chatml, llama2 or plain)"));
  }
  const std::string& text = it->get_ref<const std::string&>();
  if (absl::StrContains(text, "<|im_start|>")) {
    bool think = absl::StrContains(text, "</think>");
    std::string default_system;
    for (const char* known :
         {"You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
          "You are a helpful assistant."}) {
      // Qwen2/2.5 templates fall back to a built-in system prompt when there is none.
      if (absl::StrContains(text, absl::StrCat("'<|im_start|>system\\n", known, "<|im_end|>"))) {
        default_system = known;
        break;
      }
    }
    return ChatTemplate(ChatFormat::kChatML, options.enable_thinking, think, default_system);
  }
  if (absl::StrContains(text, "[INST]")) {
    return ChatTemplate(ChatFormat::kLlama2, options.enable_thinking);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      config_path.string(),
      ": the chat_template is neither ChatML nor LLaMA-2 [INST]; set the chat template format "
      "explicitly (chatml, llama2 or plain)"));
}

std::string ChatTemplate::end_of_turn() const {
  switch (format_) {
    case ChatFormat::kChatML:
      return "<|im_end|>";
    case ChatFormat::kLlama2:
      return "</s>";
    case ChatFormat::kPlain:
      return "";
  }
  return "";
}

std::string ChatTemplate::Describe() const {
  switch (format_) {
    case ChatFormat::kChatML:
      return think_ ? "chatml (with <think>)" : "chatml";
    case ChatFormat::kLlama2:
      return "llama2";
    case ChatFormat::kPlain:
      return "plain";
  }
  return "";
}

absl::StatusOr<std::string> ChatTemplate::Render(absl::Span<const ChatMessage> messages,
                                                 bool add_generation_prompt) const {
  for (size_t i = 0; i < messages.size(); ++i) {
    absl::Status status = CheckRole(messages[i], i);
    if (!status.ok()) return status;
  }
  switch (format_) {
    case ChatFormat::kChatML:
      return RenderChatML(messages, add_generation_prompt);
    case ChatFormat::kLlama2:
      return RenderLlama2(messages);
    case ChatFormat::kPlain: {
      std::vector<std::string> parts;
      for (const ChatMessage& m : messages) parts.push_back(m.content);
      return absl::StrJoin(parts, "\n\n");
    }
  }
  return absl::InternalError("unknown chat format");
}

// Follows Qwen's chat_template (tokenizer_config.json) for system/user/assistant messages.
absl::StatusOr<std::string> ChatTemplate::RenderChatML(absl::Span<const ChatMessage> messages,
                                                       bool add_generation_prompt) const {
  std::string out;
  if (!messages.empty() && messages[0].role == "system") {
    absl::StrAppend(&out, "<|im_start|>system\n", messages[0].content, "<|im_end|>\n");
  } else if (!default_system_.empty()) {
    absl::StrAppend(&out, "<|im_start|>system\n", default_system_, "<|im_end|>\n");
  }
  // Reasoning is kept only for assistant turns after the last user message.
  size_t last_query = messages.empty() ? 0 : messages.size() - 1;
  for (size_t i = messages.size(); i-- > 0;) {
    if (messages[i].role == "user") {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      absl::StrAppend(&out, "<|im_start|>", m.role, "\n", m.content, "<|im_end|>\n");
      continue;
    }
    if (m.role != "assistant") continue;
    if (!think_) {
      absl::StrAppend(&out, "<|im_start|>assistant\n", m.content, "<|im_end|>\n");
      continue;
    }
    std::string_view content = m.content;
    std::string_view reasoning;
    size_t close = content.rfind("</think>");
    if (close != std::string_view::npos) {
      std::string_view before = content.substr(0, content.find("</think>"));
      before = RStrip(before, "\n");
      size_t open = before.rfind("<think>");
      if (open != std::string_view::npos) before = before.substr(open + 7);
      reasoning = LStrip(before, "\n");
      content = LStrip(content.substr(close + 8), "\n");
    }
    bool last = i + 1 == messages.size();
    if (i > last_query && (last || !reasoning.empty())) {
      absl::StrAppend(&out, "<|im_start|>assistant\n<think>\n", std::string(Strip(reasoning, "\n")),
                      "\n</think>\n\n", std::string(LStrip(content, "\n")));
    } else {
      absl::StrAppend(&out, "<|im_start|>assistant\n", std::string(content));
    }
    out.append("<|im_end|>\n");
  }
  if (add_generation_prompt) {
    out.append("<|im_start|>assistant\n");
    if (think_ && !enable_thinking_) out.append("<think>\n\n</think>\n\n");
  }
  return out;
}

// Follows the LLaMA-2-chat template: an optional system prompt inside the first [INST], turns
// alternating user/assistant, each user turn opened by BOS and each answer closed by EOS.
absl::StatusOr<std::string> ChatTemplate::RenderLlama2(
    absl::Span<const ChatMessage> messages) const {
  std::string system;
  bool has_system = !messages.empty() && messages[0].role == "system";
  if (has_system) system = messages[0].content;
  std::string out;
  for (size_t i = has_system ? 1 : 0, turn = 0; i < messages.size(); ++i, ++turn) {
    const ChatMessage& m = messages[i];
    const char* expected = turn % 2 == 0 ? "user" : "assistant";
    if (m.role != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message ", i, " has role '", m.role, "' where the LLaMA-2 chat format needs '", expected,
          "' (after an optional system message, turns alternate user/assistant)"));
    }
    std::string content = m.content;
    if (turn == 0 && has_system) {
      content = absl::StrCat("<<SYS>>\n", system, "\n<</SYS>>\n\n", m.content);
    }
    if (m.role == "user") {
      absl::StrAppend(&out, "<s>[INST] ", std::string(Strip(content, kWhitespace)), " [/INST]");
    } else {
      absl::StrAppend(&out, " ", std::string(Strip(content, kWhitespace)), " </s>");
    }
  }
  return out;
}

}  // namespace ponder::model
