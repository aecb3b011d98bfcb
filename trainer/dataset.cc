#include "trainer/dataset.h"

#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status.h"

namespace ponder::trainer {
namespace {

constexpr size_t kMaxSkipReasons = 20;

// Finds `key` in `row`: the literal key first, then a dotted walk into nested objects.
const nlohmann::json* Find(const nlohmann::json& row, const std::string& key) {
  auto it = row.find(key);
  if (it != row.end()) return &*it;
  const nlohmann::json* node = &row;
  for (absl::string_view part : absl::StrSplit(key, '.')) {
    if (!node->is_object()) return nullptr;
    auto child = node->find(std::string(part));
    if (child == node->end()) return nullptr;
    node = &*child;
  }
  return node;
}

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

}  // namespace

void JsonlFormat::Bind(config::Binder& b) {
  b.Field("prompt_key", prompt_key).NotEmpty();
  b.Field("ground_truth_key", ground_truth_key);
  b.Field("data_source_key", data_source_key);
  b.Field("extra_info_key", extra_info_key);
  b.Field("level_key", level_key);
  b.Enum("on_bad_line", on_bad_line,
         {{"error", BadLinePolicy::kError}, {"skip", BadLinePolicy::kSkip}});
}

absl::StatusOr<PromptRecord> PromptDataset::ParseRow(const std::string& line,
                                                     const JsonlFormat& format,
                                                     const std::string& where) {
  nlohmann::json row;
  try {
    row = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    return Bad(where, absl::StrCat("not valid JSON (", e.what(), ")"));
  }
  if (!row.is_object()) return Bad(where, "a row must be a JSON object");

  PromptRecord record;
  record.origin = where;
  const nlohmann::json* prompt = Find(row, format.prompt_key);
  if (prompt == nullptr)
    return Bad(where, absl::StrCat("missing prompt field '", format.prompt_key, "'"));
  if (prompt->is_string()) {
    record.text = prompt->get<std::string>();
    if (record.text.empty())
      return Bad(where, absl::StrCat("prompt field '", format.prompt_key, "' is empty"));
  } else if (prompt->is_array()) {
    if (prompt->empty())
      return Bad(where, absl::StrCat("prompt field '", format.prompt_key, "' is an empty list"));
    for (size_t i = 0; i < prompt->size(); ++i) {
      const nlohmann::json& m = (*prompt)[i];
      auto role = m.is_object() ? m.find("role") : m.end();
      auto content = m.is_object() ? m.find("content") : m.end();
      if (!m.is_object() || role == m.end() || content == m.end() || !role->is_string() ||
          !content->is_string()) {
        return Bad(where, absl::StrCat("prompt message ", i, " of '", format.prompt_key,
                                       "' must be an object with string 'role' and 'content'"));
      }
      record.messages.push_back({role->get<std::string>(), content->get<std::string>()});
    }
  } else {
    return Bad(where, absl::StrCat("prompt field '", format.prompt_key,
                                   "' must be a string or a list of {role, content} messages"));
  }

  if (!format.ground_truth_key.empty()) {
    const nlohmann::json* truth = Find(row, format.ground_truth_key);
    if (truth == nullptr || truth->is_null()) {
      return Bad(where, absl::StrCat("missing ground truth field '", format.ground_truth_key,
                                     "' (set data.ground_truth_key to where rows keep it, or to "
                                     "\"\" for rows without one)"));
    }
    record.ground_truth = *truth;
  }
  if (!format.data_source_key.empty()) {
    if (const nlohmann::json* source = Find(row, format.data_source_key); source != nullptr) {
      if (!source->is_string()) {
        return Bad(where, absl::StrCat("field '", format.data_source_key, "' must be a string"));
      }
      record.data_source = source->get<std::string>();
    }
  }
  if (!format.extra_info_key.empty()) {
    if (const nlohmann::json* extra = Find(row, format.extra_info_key); extra != nullptr) {
      record.extra_info = *extra;
    }
  }
  if (!format.level_key.empty()) {
    const nlohmann::json* level = Find(row, format.level_key);
    if (level == nullptr)
      return Bad(where, absl::StrCat("missing level field '", format.level_key, "'"));
    if (!level->is_number_integer() || level->get<int64_t>() < 0) {
      return Bad(where, absl::StrCat("level field '", format.level_key,
                                     "' must be a non-negative integer (got ", level->dump(), ")"));
    }
    record.level = level->get<int64_t>();
  }
  return record;
}

absl::StatusOr<PromptDataset> PromptDataset::LoadJsonl(const std::string& path,
                                                       const JsonlFormat& format) {
  return LoadJsonlFiles({path}, format);
}

absl::StatusOr<PromptDataset> PromptDataset::LoadJsonlFiles(const std::vector<std::string>& paths,
                                                            const JsonlFormat& format) {
  PromptDataset dataset;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open dataset file ", path));
    std::string line;
    int64_t line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      absl::StatusOr<PromptRecord> record =
          ParseRow(line, format, absl::StrCat(path, ":", line_number));
      if (!record.ok()) {
        if (format.on_bad_line == BadLinePolicy::kError) {
          return absl::InvalidArgumentError(absl::StrCat(
              record.status().message(), " (set data.on_bad_line: skip to skip such lines)"));
        }
        ++dataset.skipped_lines_;
        if (dataset.skip_reasons_.size() < kMaxSkipReasons) {
          dataset.skip_reasons_.emplace_back(record.status().message());
        }
        continue;
      }
      dataset.records_.push_back(std::move(*record));
    }
    if (in.bad()) return absl::DataLossError(absl::StrCat("error reading dataset file ", path));
  }
  if (dataset.records_.empty()) {
    std::string files;
    for (const auto& p : paths) absl::StrAppend(&files, files.empty() ? "" : ", ", p);
    return absl::InvalidArgumentError(absl::StrCat("dataset ", files, " has no usable rows (",
                                                   dataset.skipped_lines_, " skipped as bad)"));
  }
  return dataset;
}

std::vector<int64_t> PromptDataset::Levels() const {
  std::vector<int64_t> levels;
  levels.reserve(records_.size());
  for (const auto& r : records_) levels.push_back(r.level);
  return levels;
}

}  // namespace ponder::trainer
