// The architecture of a decoder (LLaMA / Qwen2 / Qwen3 family) and its Hugging Face
// `config.json` form.
//
// Fields follow transformers' names. Reading checks every field it uses (type, range and the
// relations between them) and names the file and field in errors; fields of config.json that
// the decoder does not use are kept verbatim and written back, so a folder loaded and saved
// again keeps them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ponder::model {

struct ModelConfig {
  // "llama", "qwen2" or "qwen3": decides the defaults that transformers gives each family
  // (Qwen2 has q/k/v biases; Qwen3 normalises q and k per head) and `architectures` on save.
  std::string model_type = "llama";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;    // num_hidden_layers
  int64_t num_heads = 0;     // num_attention_heads
  int64_t num_kv_heads = 0;  // num_key_value_heads (grouped-query attention)
  int64_t head_dim = 0;      // hidden_size / num_heads unless config.json says otherwise
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;  // the LM head reuses the token embedding
  bool qkv_bias = false;             // biases on q_proj, k_proj, v_proj (Qwen2)
  bool o_bias = false;               // bias on o_proj (LLaMA's attention_bias)
  bool qk_norm = false;              // RMSNorm over each head of q and k before RoPE (Qwen3)
  int64_t bos_token_id = -1;         // -1: none
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype = "float32";  // the dtype the weights were saved in

  // The original config.json text, for fields kept on save ("" when built by hand).
  std::string source_json;

  // Checks sizes and their relations; `where` prefixes messages (a file name).
  absl::Status Validate(const std::string& where = "model config") const;
  // Number of weights (the LM head counted once when tied; no value head).
  int64_t NumParameters() const;
};

// Parses config.json text; `file` names it in messages.
absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& file);
// Reads and parses a config.json file.
absl::StatusOr<ModelConfig> ReadHfConfig(const std::string& path);
// The config.json text for `config` (fields of `source_json` the decoder does not use are
// kept; ours are overwritten).
std::string ToHfConfigJson(const ModelConfig& config);

}  // namespace ponder::model
