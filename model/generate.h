// Single-sequence text generation: what `ponder generate --prompt` runs. (Batched generation
// with continuous batching is the rollout engine's job; it drives DecoderImpl::Step directly.)
// Both draw tokens with the same sampler (model/sampling.h): a prompt generated here with a
// seed gives the tokens the engine gives the first sample of the first prompt of a request
// with that seed (`ponder generate --prompts` with that one prompt).
//
// This header does not include LibTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model_options.h"
#include "model/sampling.h"

namespace ponder::model {

class DecoderImpl;

struct GenerationParams {
  int64_t max_new_tokens = 256;
  SamplingParams sampling;
  uint64_t seed = 1;              // token t is drawn with UniformDraw(seed, 0, 0, t)
  std::vector<int32_t> stop_ids;  // generation ends before any of these (not included)
};

// Runs `prompt` (non-empty) through `model` and samples up to `params.max_new_tokens` tokens,
// calling `on_token` with each as it is chosen (a non-OK Status from it stops generation and
// is returned). Returns the generated ids without the stop token. The prompt plus the new
// tokens must fit the model's max_position_embeddings.
absl::StatusOr<std::vector<int32_t>> GenerateIds(
    DecoderImpl& model, const std::vector<int32_t>& prompt, const GenerationParams& params,
    const std::function<absl::Status(int32_t)>& on_token = nullptr);

struct GenerateOptions {
  ModelOptions model;  // path, tokenizer (default: found next to the model), dtype, device
  std::string prompt;  // encoded with the tokenizer's BOS first when it has one
  GenerationParams params;
};

// Loads the model and tokenizer, generates a continuation of the prompt and passes its text
// to `emit` as it is produced, in whole UTF-8 characters; special tokens are not printed. The
// text is that of the generated ids alone, as the rollout engine writes a sample's `text`.
// Generation stops at the model's or tokenizer's end-of-sequence token (for llama2.c models
// also at BOS, as run.c does) or after max_new_tokens.
absl::Status GenerateText(const GenerateOptions& options,
                          const std::function<void(std::string_view)>& emit);

}  // namespace ponder::model
