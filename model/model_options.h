// The `model:` section of a job config: which checkpoint to load and how to run it.
//
//   model:
//     path: /models/Qwen2.5-0.5B       # Hugging Face folder or llama2.c .bin
//     tokenizer: ""                    # default: the tokenizer files in the model folder
//     dtype: bfloat16                  # float32 | bfloat16 | float16
//     device: cuda:0                   # cpu | cuda | cuda:N
//     value_head: false                # add the scalar value head (PPO critic)
//     logits_chunk_tokens: 1024        # tokens per vocabulary-sized chunk in log-probs
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "base/config.h"

namespace ponder::model {

enum class Precision { kFloat32, kBFloat16, kFloat16 };

const char* PrecisionName(Precision precision);

struct ModelOptions {
  std::string path;
  std::string tokenizer;
  Precision dtype = Precision::kFloat32;
  std::string device = "cpu";
  bool value_head = false;
  int64_t logits_chunk_tokens = 1024;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// Checks a device spelling: "cpu", "cuda" or "cuda:N".
absl::Status ValidateDeviceName(const std::string& device);

}  // namespace ponder::model
