// Getting the job's model and tokenizer: from a checkpoint (`model.path`), or, for models
// trained from scratch such as the built-in tasks' tiny ones, from `model.init`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "model/model_options.h"
#include "model/tokenizer.h"
#include "trainer/prompt_encoder.h"

namespace ponder::trainer {

// Where the tokenizer comes from: `model.tokenizer`, else the folder of `model.path` (the
// folder that holds a llama2.c .bin). InvalidArgument when neither is given.
absl::StatusOr<std::string> TokenizerSource(const model::ModelOptions& options);

// The job's tokenizer, where it came from, and the prompt encoder (chat template) over it.
struct JobTokenizer {
  std::string source;  // TokenizerSource(options)
  std::shared_ptr<const model::Tokenizer> tokenizer;
  PromptEncoder encoder;
};
absl::StatusOr<JobTokenizer> LoadJobTokenizer(const model::ModelOptions& options);

// Loads `options.path` (model/checkpoint.h), or with no path builds `options.init` with
// `vocab_size` tokens and fresh weights from LibTorch's global generator; either way in the
// configured dtype and device, with a value head when `options.value_head`.
absl::StatusOr<model::Decoder> LoadPolicyModel(const model::ModelOptions& options,
                                               int64_t vocab_size);

// LoadPolicyModel for a model that will be trained: with a lower-precision model.dtype and
// model.master_dtype float32 (the default), the parameters (so gradients and AdamW state) are
// float32 master weights and the model computes in model.dtype (Decoder::set_compute_dtype).
absl::StatusOr<model::Decoder> LoadTrainedModel(const model::ModelOptions& options,
                                                int64_t vocab_size);

// Writes `model` as a Hugging Face folder into `dir` with its tokenizer: the files of a
// tokenizer folder are copied; a character vocabulary (`chars:...`) is kept in
// `tokenizer_chars.txt`, so that `model.path: dir` alone loads both.
absl::Status SaveModelFolder(const model::Decoder& model, const std::string& dir,
                             const std::string& tokenizer_source);

}  // namespace ponder::trainer
