// The `model:` section of a job config: which checkpoint to load and how to run it.
//
//   model:
//     path: /models/Qwen2.5-0.5B       # Hugging Face folder or llama2.c .bin
//     tokenizer: ""                    # default: the tokenizer files in the model folder
//     dtype: bfloat16                  # float32 | bfloat16 | float16: what the model computes in
//     master_dtype: float32            # trained models (policy, critic, SFT) keep parameters,
//                                      #   gradients and AdamW state in float32 while computing
//                                      #   in `dtype`; `same`: everything in `dtype`
//     device: cuda:0                   # cpu | cuda | cuda:N
//     value_head: false                # add the scalar value head (PPO critic)
//     logits_chunk_tokens: 1024        # tokens per vocabulary-sized chunk in log-probs
//     logits_keep_mb: 256              # keep [tokens x vocab] log-probs for the backward when
//                                      #   they fit (else recompute the logits per chunk)
//     share_prompts: true              # training: the samples of a prompt in a micro-batch
//                                      #   run it once (same results, less compute)
//     chat_template: {format: auto}    # how chat-message prompts are rendered
//     init: {...}                      # with no path: a freshly initialised architecture
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "base/config.h"
#include "model/chat_template.h"
#include "model/model_config.h"

namespace ponder::model {

enum class Precision { kFloat32, kBFloat16, kFloat16 };
// The parameters' dtype of a trained model whose `dtype` is lower precision.
enum class MasterPrecision { kFloat32, kSame };

const char* PrecisionName(Precision precision);

// `model.init:` — the architecture of a model trained from scratch (no `path`), e.g. the
// tiny models of the built-in tasks. Weights are drawn as transformers initialises them, from
// run.seed. The vocabulary is the tokenizer's.
struct ModelInitOptions {
  std::string model_type = "llama";  // llama | qwen2 | qwen3
  int64_t hidden_size = 128;
  int64_t intermediate_size = 512;
  int64_t num_layers = 2;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 4;
  int64_t max_position_embeddings = 64;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = false;

  void Bind(config::Binder& b);
  // The architecture with `vocab_size` tokens; InvalidArgument naming the field when the
  // sizes do not fit together.
  absl::StatusOr<ModelConfig> ToModelConfig(int64_t vocab_size) const;
};

struct ModelOptions {
  std::string path;
  std::string tokenizer;
  Precision dtype = Precision::kFloat32;
  MasterPrecision master_dtype = MasterPrecision::kFloat32;
  std::string device = "cpu";
  bool value_head = false;
  int64_t logits_chunk_tokens = 1024;
  int64_t logits_keep_mb = 256;
  bool share_prompts = true;
  ChatTemplateOptions chat_template;
  ModelInitOptions init;  // used only when `path` is empty

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// Checks a device spelling: "cpu", "cuda" or "cuda:N".
absl::Status ValidateDeviceName(const std::string& device);

}  // namespace ponder::model
