// llama2.c checkpoints (`run.c`'s legacy .bin format, e.g. stories260K.bin), without LibTorch.
//
// Layout: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len; a negative vocab_size means the classifier is stored separately), then fp32 arrays:
// token embedding, attention RMSNorm weights, wq, wk, wv, wo, FFN RMSNorm weights, w1, w2, w3,
// final RMSNorm weight, two legacy RoPE tables (skipped), and the classifier when not shared.
// Each per-layer array holds all layers back to back; matrices are [out, in] row-major.
//
// The reader hands the weights out under their Hugging Face LLaMA names
// (`model.layers.0.self_attn.q_proj.weight`, ...), so one loader serves both formats. llama2.c
// rotates interleaved pairs of q/k features while transformers rotates the two halves of each
// head, so q_proj and k_proj rows are permuted the way transformers' conversion script does;
// the model then computes exactly what run.c computes.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_config.h"
#include "model/tensor_data.h"

namespace ponder::model {

struct Llama2cCheckpoint {
  ModelConfig config;               // rms_norm_eps 1e-5, rope_theta 10000, as run.c uses
  std::vector<TensorData> tensors;  // F32, Hugging Face names and shapes
};

// Reads `path`. A header with impossible sizes, a truncated file or trailing bytes is an
// InvalidArgument naming the file and, for size problems, the first tensor that does not fit.
absl::StatusOr<Llama2cCheckpoint> ReadLlama2cCheckpoint(const std::string& path);

// True when `path` looks like a llama2.c checkpoint by name (ends in ".bin" and is a file).
bool IsLlama2cPath(const std::string& path);

}  // namespace ponder::model
