// Chat templates: cases rendered by the real Qwen3 template with Jinja2 (and LLaMA-2/plain
// written by hand) in tests/data/tokenizer/chat_template_cases.json; one driver. Then the
// detection from tokenizer_config.json and the errors.
#include "model/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testing.h"

namespace ponder::model {
namespace {

using ::ponder::testing::ReadFile;
using ::ponder::testing::SourcePath;
using ::testing::HasSubstr;

TEST(ChatTemplateTest, RendersLikeTheReferenceTemplates) {
  nlohmann::json data =
      nlohmann::json::parse(ReadFile(SourcePath("tests/data/tokenizer/chat_template_cases.json")));
  ASSERT_GE(data["cases"].size(), 9u);
  for (const nlohmann::json& c : data["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::vector<ChatMessage> messages;
    for (const nlohmann::json& m : c["messages"]) messages.push_back({m["role"], m["content"]});
    std::string format = c["format"];
    bool thinking = c["enable_thinking"];
    ChatTemplate chat = format == "qwen3"
                            ? ChatTemplate(ChatFormat::kChatML, thinking, /*think=*/true)
                        : format == "llama2" ? ChatTemplate(ChatFormat::kLlama2, thinking)
                                             : ChatTemplate(ChatFormat::kPlain, thinking);
    absl::StatusOr<std::string> text = chat.Render(messages, c["add_generation_prompt"]);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, c["expected"].get<std::string>());
  }
}

std::string Folder(const std::string& name, const std::string& config) {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::create_directories(dir);
  if (!config.empty()) std::ofstream(dir / "tokenizer_config.json") << config;
  return dir.string();
}

TEST(ChatTemplateTest, DetectsTheFamilyFromTokenizerConfig) {
  ChatTemplateOptions auto_options;
  absl::StatusOr<ChatTemplate> qwen3 =
      ChatTemplate::Create(auto_options, SourcePath("tests/data/tokenizer/qwen3"));
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_EQ(qwen3->Describe(), "chatml (with <think>)");
  EXPECT_EQ(qwen3->end_of_turn(), "<|im_end|>");

  // Qwen2.5's template falls back to its own system prompt.
  nlohmann::json qwen25 = {
      {"chat_template",
       "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
       "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are "
       "Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif "
       "%}"}};
  absl::StatusOr<ChatTemplate> q25 =
      ChatTemplate::Create(auto_options, Folder("qwen25", qwen25.dump()));
  ASSERT_TRUE(q25.ok()) << q25.status();
  EXPECT_EQ(*q25->Render({{"user", "Hi"}}),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

  nlohmann::json llama = {{"chat_template", "{{ bos_token + '[INST] ' + content + ' [/INST]' }}"}};
  absl::StatusOr<ChatTemplate> l2 =
      ChatTemplate::Create(auto_options, Folder("llama2", llama.dump()));
  ASSERT_TRUE(l2.ok());
  EXPECT_EQ(l2->format(), ChatFormat::kLlama2);

  absl::StatusOr<ChatTemplate> none = ChatTemplate::Create(auto_options, Folder("none", ""));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->format(), ChatFormat::kPlain);

  ChatTemplateOptions explicit_options;
  explicit_options.format = "llama2";
  EXPECT_EQ(ChatTemplate::Create(explicit_options, Folder("none2", ""))->format(),
            ChatFormat::kLlama2);
}

TEST(ChatTemplateTest, Errors) {
  ChatTemplateOptions options;
  std::string odd = Folder("odd", R"({"chat_template": "{{ messages }}"})");
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Create(options, odd);
  EXPECT_THAT(t.status().message(),
              HasSubstr(odd + "/tokenizer_config.json: the chat_template is neither ChatML nor "
                              "LLaMA-2 [INST]; set the chat template format explicitly"));
  std::string broken = Folder("broken", "{not json");
  t = ChatTemplate::Create(options, broken);
  EXPECT_THAT(t.status().message(), HasSubstr("tokenizer_config.json: not a JSON object"));
  options.format = "jinja";
  EXPECT_THAT(ChatTemplate::Create(options, broken).status().message(),
              HasSubstr("unknown chat template format 'jinja'"));

  ChatTemplate chatml(ChatFormat::kChatML, true, true);
  EXPECT_THAT(chatml.Render({{"user", "a"}, {"tool", "b"}}).status().message(),
              HasSubstr("message 1 has role 'tool'; expected system, user or assistant"));
  ChatTemplate llama2(ChatFormat::kLlama2, true);
  EXPECT_THAT(llama2.Render({{"system", "s"}, {"assistant", "a"}}).status().message(),
              HasSubstr("message 1 has role 'assistant' where the LLaMA-2 chat format needs "
                        "'user'"));
}

}  // namespace
}  // namespace ponder::model
