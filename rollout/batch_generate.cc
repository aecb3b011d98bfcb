#include "rollout/batch_generate.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/tokenizer.h"
#include "rollout/engine.h"

namespace ponder::rollout {
namespace {

using nlohmann::json;

struct InputLine {
  int64_t line = 0;
  std::optional<std::string> prompt;
  std::vector<model::ChatMessage> messages;
};

absl::StatusOr<std::vector<InputLine>> ReadPrompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the prompts file ", path));
  std::vector<InputLine> out;
  std::string text;
  int64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (absl::StripAsciiWhitespace(text).empty()) continue;
    const std::string where = absl::StrCat(path, ":", number);
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
    }
    InputLine line;
    line.line = number;
    auto prompt = j.find("prompt");
    auto messages = j.find("messages");
    if ((prompt != j.end()) == (messages != j.end())) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": needs either \"prompt\" (a string) or \"messages\" (a list)"));
    }
    if (prompt != j.end()) {
      if (!prompt->is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": \"prompt\" must be a string"));
      }
      line.prompt = prompt->get<std::string>();
    } else {
      if (!messages->is_array() || messages->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": \"messages\" must be a non-empty list"));
      }
      for (size_t i = 0; i < messages->size(); ++i) {
        const json& m = (*messages)[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
            !m.contains("content") || !m["content"].is_string()) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ": messages[", i, "] must be {\"role\": string, \"content\": string}"));
        }
        line.messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
      }
    }
    out.push_back(std::move(line));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  return out;
}

void AddStop(std::vector<int32_t>& ids, int64_t id) {
  if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) {
    ids.push_back(static_cast<int32_t>(id));
  }
}

}  // namespace

absl::StatusOr<BatchGenerateStats> GenerateBatch(const BatchGenerateOptions& options) {
  if (options.n == 0) return absl::InvalidArgumentError("n must be >= 1 (got 0)");
  PONDER_ASSIGN_OR_RETURN(std::vector<InputLine> lines, ReadPrompts(options.prompts_path));
  {
    std::ofstream probe(options.output_path, std::ios::app);
    if (!probe) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot write the output file ", options.output_path));
    }
  }
  PONDER_ASSIGN_OR_RETURN(LoadedEngine loaded, LoadRolloutEngine(options.model, options.rollout));
  if (loaded.tokenizer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no tokenizer found for ", options.model.path, "; pass one (--tokenizer)"));
  }
  const model::Tokenizer& tokenizer = *loaded.tokenizer;
  const std::string tokenizer_path =
      options.model.tokenizer.empty() ? options.model.path : options.model.tokenizer;

  SamplingOptions sampling = options.rollout.sampling;
  for (int64_t id : loaded.config.eos_token_ids) AddStop(sampling.stop_token_ids, id);
  if (auto eos = tokenizer.eos_id()) AddStop(sampling.stop_token_ids, *eos);
  if (absl::EndsWith(options.model.path, ".bin")) {
    AddStop(sampling.stop_token_ids, loaded.config.bos_token_id);  // run.c's delimiter
  }
  std::optional<model::ChatTemplate> chat;
  SamplingOptions chat_sampling = sampling;
  for (const InputLine& line : lines) {
    if (line.messages.empty() || chat.has_value()) continue;
    absl::StatusOr<model::ChatTemplate> t =
        model::ChatTemplate::Create(options.chat, tokenizer_path);
    if (!t.ok()) return Annotate(t.status(), "chat template");
    chat = *t;
    const std::string end = chat->end_of_turn();
    if (!end.empty()) {
      if (std::optional<int32_t> id = tokenizer.TokenToId(end)) {
        AddStop(chat_sampling.stop_token_ids, *id);
      } else {
        chat_sampling.stop_strings.push_back(end);
      }
    }
  }

  GenerateRequest request;
  request.return_text = true;
  RequestLimits limits{loaded.engine->vocab_size(), loaded.engine->max_seq_len(), true};
  BatchGenerateStats stats;
  for (size_t i = 0; i < lines.size(); ++i) {
    const InputLine& line = lines[i];
    const std::string where = absl::StrCat(options.prompts_path, ":", line.line);
    PromptRequest p;
    p.prompt_index = i;
    p.n = options.n;
    model::EncodeOptions encode;
    absl::StatusOr<std::vector<int32_t>> ids;
    if (line.prompt.has_value()) {
      encode.add_bos = true;
      ids = tokenizer.Encode(*line.prompt, encode);
      p.sampling = sampling;
    } else {
      absl::StatusOr<std::string> text = chat->Render(line.messages);
      if (!text.ok()) return Annotate(text.status(), where);
      ids = tokenizer.Encode(*text, encode);
      p.sampling = chat_sampling;
    }
    if (!ids.ok()) return Annotate(ids.status(), where);
    p.token_ids = std::move(*ids);
    stats.prompt_tokens += static_cast<int64_t>(p.token_ids.size());
    GenerateRequest one;
    one.prompts.push_back(p);
    absl::Status valid = ValidateRequest(one, limits);
    if (!valid.ok()) return Annotate(valid, where);
    request.prompts.push_back(std::move(p));
  }

  const auto start = std::chrono::steady_clock::now();
  PONDER_ASSIGN_OR_RETURN(std::vector<Trajectory> trajectories, loaded.engine->Generate(request));
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const RolloutEngine::Counters counters = loaded.engine->counters();
  stats.peak_running = counters.peak_running;
  stats.peak_kv_blocks = counters.peak_kv_blocks;
  stats.preemptions = counters.preemptions;
  stats.kv_cache_blocks = loaded.engine->kv_cache_blocks();
  stats.kv_block_size = loaded.engine->kv_block_size();
  std::sort(trajectories.begin(), trajectories.end(), [](const Trajectory& a, const Trajectory& b) {
    return std::make_pair(a.prompt_index, a.sample_index) <
           std::make_pair(b.prompt_index, b.sample_index);
  });

  std::ofstream out(options.output_path, std::ios::trunc);
  for (const Trajectory& t : trajectories) {
    nlohmann::ordered_json j{{"prompt_index", t.prompt_index},
                             {"sample_index", t.sample_index},
                             {"text", t.text},
                             {"token_ids", t.token_ids},
                             {"logprobs", t.logprobs},
                             {"finish_reason", FinishReasonName(t.finish_reason)},
                             {"version", t.weight_version}};
    out << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    stats.generated_tokens += static_cast<int64_t>(t.token_ids.size());
  }
  out.flush();
  if (!out) {
    return absl::InternalError(absl::StrCat("cannot write the output file ", options.output_path));
  }
  stats.prompts = static_cast<int64_t>(lines.size());
  stats.trajectories = static_cast<int64_t>(trajectories.size());
  return stats;
}

}  // namespace ponder::rollout
