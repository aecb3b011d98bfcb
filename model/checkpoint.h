// Loading and saving the policy: Hugging Face folders (config.json + model.safetensors or
// sharded model-0000i-of-0000N.safetensors with model.safetensors.index.json) and llama2.c
// .bin checkpoints.
//
//   PONDER_ASSIGN_OR_RETURN(Decoder model, LoadModel(options));   // options: ModelOptions
//   PONDER_RETURN_IF_ERROR(SaveHfFolder(model, "runs/x/checkpoints/step_10", {
//       .tokenizer_dir = options.path}));
//
// Every weight the architecture needs must be in the files with the right shape and a
// floating dtype (F32, F16, BF16; converted to the requested dtype); a missing, misshaped or
// wrongly typed tensor, or a tensor the architecture does not have, is an InvalidArgument
// naming the file and the tensor. Saved folders load in transformers (LlamaForCausalLM /
// Qwen2ForCausalLM / Qwen3ForCausalLM) and in Ponder, bit-exact.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "model/model_options.h"

namespace ponder::model {

// Loads `options.path` (a folder or a llama2.c .bin) in `options.dtype` on `options.device`,
// with a value head when `options.value_head` (loaded from `value_head.*` when the files have
// it, else freshly initialised from LibTorch's global generator).
absl::StatusOr<Decoder> LoadModel(const ModelOptions& options);

// Reads only the architecture of `path` (config.json of a folder, or a llama2.c header).
absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path);

struct SaveOptions {
  // Weights' dtype in the files; default: the model's.
  std::optional<Precision> dtype;
  // Shard when the weights exceed this many bytes (transformers' default, 5 GB); <= 0: never.
  int64_t max_shard_bytes = 5'000'000'000;
  // Copy the tokenizer files found here (tokenizer.json, tokenizer_config.json,
  // tokenizer.model, special_tokens_map.json, vocab.json, merges.txt, added_tokens.json,
  // generation_config.json, tokenizer.bin) into the folder. Empty: none.
  std::string tokenizer_dir;
};

// Writes `model` as a Hugging Face folder into `dir` (created if needed): config.json and the
// weights (the value head too, as value_head.weight / value_head.bias, which transformers
// ignores).
absl::Status SaveHfFolder(const Decoder& model, const std::string& dir,
                          const SaveOptions& options = {});

// The LibTorch scalar type and device named by the options (device validity included:
// "cuda" on a LibTorch without CUDA is an InvalidArgument).
absl::StatusOr<c10::ScalarType> ToScalarType(Precision precision);
absl::StatusOr<c10::Device> ToDevice(const std::string& device);

}  // namespace ponder::model
