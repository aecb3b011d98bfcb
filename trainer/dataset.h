// Prompt datasets: JSONL files in verl's row layout, and the records the prompt samplers,
// rollout and reward work from.
//
// A verl-style row:
//   {"data_source": "openai/gsm8k",
//    "prompt": [{"role": "user", "content": "Natalia sold clips ..."}],
//    "reward_model": {"style": "rule", "ground_truth": "72"},
//    "extra_info": {"split": "train", "index": 0}}
// `prompt` may also be plain text. Which fields hold the prompt, the ground truth, the data
// source, the extra info and (optionally) a difficulty level is configurable
// (`JsonlFormat`); a dotted key ("reward_model.ground_truth") walks into nested objects.
// A line that cannot be used is an error naming the file and line, or, with
// `on_bad_line: skip`, is skipped and counted (`PromptDataset::skipped_lines`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::trainer {

struct ChatMessage {
  std::string role;
  std::string content;
  bool operator==(const ChatMessage& o) const { return role == o.role && content == o.content; }
};

// One prompt with what is needed to score its responses.
struct PromptRecord {
  std::string text;                   // the prompt as plain text (empty when `messages` is used)
  std::vector<ChatMessage> messages;  // the prompt as chat messages (empty when `text` is used)
  std::string data_source;            // selects the verifier(s); may be empty
  nlohmann::json ground_truth;        // string, number or object, as the verifier expects
  nlohmann::json extra_info;          // passed through to verifiers and samples (null if absent)
  int64_t level = 0;                  // difficulty, used by the curriculum sampler (0: none)
  std::string origin;                 // where it came from: "file.jsonl:12", "countdown#3"
};

enum class BadLinePolicy { kError, kSkip };

// How JSONL rows map onto PromptRecord. Names follow verl (`data.prompt_key`).
struct JsonlFormat {
  std::string prompt_key = "prompt";
  std::string ground_truth_key = "reward_model.ground_truth";  // empty: rows carry none
  std::string data_source_key = "data_source";
  std::string extra_info_key = "extra_info";
  std::string level_key;  // e.g. "extra_info.level"; empty: no levels
  BadLinePolicy on_bad_line = BadLinePolicy::kError;

  void Bind(config::Binder& b);
};

class PromptDataset {
 public:
  PromptDataset() = default;
  explicit PromptDataset(std::vector<PromptRecord> records) : records_(std::move(records)) {}

  // Reads one JSONL file. Blank lines are ignored. Errors: NotFound (cannot open),
  // InvalidArgument "FILE:LINE: ..." for a bad line (unless skipping), InvalidArgument when
  // no usable line remains.
  static absl::StatusOr<PromptDataset> LoadJsonl(const std::string& path,
                                                 const JsonlFormat& format);
  // Reads several files, in order, into one dataset.
  static absl::StatusOr<PromptDataset> LoadJsonlFiles(const std::vector<std::string>& paths,
                                                      const JsonlFormat& format);

  // Parses one row; `where` ("file:line") prefixes error messages.
  static absl::StatusOr<PromptRecord> ParseRow(const std::string& line, const JsonlFormat& format,
                                               const std::string& where);

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const PromptRecord& operator[](size_t i) const { return records_[i]; }
  const std::vector<PromptRecord>& records() const { return records_; }

  // Lines skipped as bad (with on_bad_line: skip), and the reasons for the first few.
  int64_t skipped_lines() const { return skipped_lines_; }
  const std::vector<std::string>& skip_reasons() const { return skip_reasons_; }

  // The level of every record, in order (for the curriculum sampler).
  std::vector<int64_t> Levels() const;

 private:
  std::vector<PromptRecord> records_;
  int64_t skipped_lines_ = 0;
  std::vector<std::string> skip_reasons_;
};

}  // namespace ponder::trainer
