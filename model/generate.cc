#include "model/generate.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/llama2c.h"
#include "model/tokenizer.h"

namespace ponder::model {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> TokenizerPath(const ModelOptions& options) {
  if (!options.tokenizer.empty()) return options.tokenizer;
  std::error_code ec;
  if (fs::is_directory(options.path, ec)) return options.path;
  const fs::path beside = fs::path(options.path).parent_path() / "tokenizer.bin";
  if (fs::exists(beside, ec)) return beside.string();
  return absl::InvalidArgumentError(
      absl::StrCat("no tokenizer found for '", options.path,
                   "' (looked for tokenizer.bin beside it); pass one with --tokenizer"));
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> GenerateIds(
    DecoderImpl& model, const std::vector<int32_t>& prompt, const GenerationParams& params,
    const std::function<absl::Status(int32_t)>& on_token) {
  const ModelConfig& config = model.config();
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  if (params.max_new_tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens must be >= 0 (got ", params.max_new_tokens, ")"));
  }
  const int64_t total = static_cast<int64_t>(prompt.size()) + params.max_new_tokens;
  if (total > config.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt (", prompt.size(), " tokens) plus max_new_tokens (", params.max_new_tokens,
        ") exceed the model's context of ", config.max_position_embeddings, " tokens"));
  }
  std::vector<int32_t> out;
  if (params.max_new_tokens == 0) return out;
  KvCacheOptions cache_options;
  cache_options.num_slots = 1;
  cache_options.max_seq_len = total;
  PONDER_ASSIGN_OR_RETURN(KvCache cache,
                          KvCache::Create(config, cache_options, model.dtype(), model.device()));
  PONDER_ASSIGN_OR_RETURN(int64_t slot, cache.Acquire());
  // Distinct ids of the context, for the repetition penalty (as the rollout engine keeps them).
  std::vector<int32_t> seen;
  auto see = [&](int32_t id) {
    if (params.sampling.repetition_penalty == 1.0) return;
    if (std::find(seen.begin(), seen.end(), id) == seen.end()) seen.push_back(id);
  };
  for (int32_t id : prompt) see(id);
  SampleBuffers buffers;
  PONDER_ASSIGN_OR_RETURN(at::Tensor logits, model.Step(cache, {slot}, {prompt}));
  for (int64_t i = 0; i < params.max_new_tokens; ++i) {
    at::Tensor row = logits[0].to(at::kCPU, at::kFloat).contiguous();
    const double u = UniformDraw(params.seed, 0, 0, static_cast<uint64_t>(i));
    const int32_t next =
        SampleRow(row.data_ptr<float>(), row.numel(), params.sampling, seen, u, buffers).token;
    see(next);
    if (std::find(params.stop_ids.begin(), params.stop_ids.end(), next) != params.stop_ids.end()) {
      break;
    }
    out.push_back(next);
    if (on_token) PONDER_RETURN_IF_ERROR(on_token(next));
    if (i + 1 == params.max_new_tokens) break;
    PONDER_ASSIGN_OR_RETURN(logits, model.Step(cache, {slot}, {{next}}));
  }
  return out;
}

absl::Status GenerateText(const GenerateOptions& options,
                          const std::function<void(std::string_view)>& emit) {
  PONDER_ASSIGN_OR_RETURN(std::string tokenizer_path, TokenizerPath(options.model));
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(tokenizer_path));
  PONDER_ASSIGN_OR_RETURN(Decoder model, LoadModel(options.model));
  const ModelConfig& config = model->config();
  if (tokenizer->vocab_size() > config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer '", tokenizer_path, "' has ", tokenizer->vocab_size(),
        " tokens but the model only ", config.vocab_size, "; they do not belong together"));
  }
  EncodeOptions encode;
  encode.add_bos = true;
  PONDER_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, tokenizer->Encode(options.prompt, encode));
  if (prompt.empty()) {
    return absl::InvalidArgumentError(
        "the prompt is empty and the tokenizer has no BOS token to start from");
  }
  GenerationParams params = options.params;
  for (int64_t id : config.eos_token_ids) params.stop_ids.push_back(static_cast<int32_t>(id));
  if (auto eos = tokenizer->eos_id()) params.stop_ids.push_back(*eos);
  if (IsLlama2cPath(options.model.path) && config.bos_token_id >= 0) {
    params.stop_ids.push_back(static_cast<int32_t>(config.bos_token_id));  // run.c's delimiter
  }
  DecodeOptions decode;
  decode.skip_special = true;
  // The generated ids decoded on their own, as the rollout engine decodes a sample's text (a
  // leading space of the first token is dropped, as at the start of any text).
  StreamDecoder stream(*tokenizer, decode);
  PONDER_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                          GenerateIds(*model, prompt, params, [&](int32_t id) -> absl::Status {
                            std::string piece;
                            PONDER_RETURN_IF_ERROR(stream.Push(id, &piece));
                            if (!piece.empty()) emit(piece);
                            return absl::OkStatus();
                          }));
  std::string rest;
  stream.Finish(&rest);
  if (!rest.empty()) emit(rest);
  return absl::OkStatus();
}

}  // namespace ponder::model
