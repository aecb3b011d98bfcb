#include "model/llama2c.h"

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/internal/mapped_file.h"

namespace ponder::model {
namespace {

constexpr int64_t kHeaderBytes = 7 * 4;
constexpr int64_t kMaxDim = int64_t{1} << 24;     // refuses headers that are clearly not sizes
constexpr uint32_t kVersionedMagic = 0x616b3432;  // "ak42": llama2.c's version 1/2 exports

// Permutes the rows of a [heads * head_dim, in] projection from llama2.c's interleaved RoPE
// pairs to transformers' rotate-half layout: new row p * head_dim/2 + i = old row 2i + p.
std::shared_ptr<std::vector<float>> PermuteForRope(const float* w, int64_t heads, int64_t head_dim,
                                                   int64_t in) {
  auto out = std::make_shared<std::vector<float>>(static_cast<size_t>(heads * head_dim * in));
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t p = 0; p < 2; ++p) {
      for (int64_t i = 0; i < half; ++i) {
        const float* src = w + (h * head_dim + 2 * i + p) * in;
        float* dst = out->data() + (h * head_dim + p * half + i) * in;
        std::memcpy(dst, src, static_cast<size_t>(in) * sizeof(float));
      }
    }
  }
  return out;
}

}  // namespace

bool IsLlama2cPath(const std::string& path) {
  std::error_code ec;
  return std::filesystem::path(path).extension() == ".bin" &&
         std::filesystem::is_regular_file(path, ec);
}

absl::StatusOr<Llama2cCheckpoint> ReadLlama2cCheckpoint(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(std::shared_ptr<const internal::MappedFile> file,
                          internal::MappedFile::Open(path));
  const int64_t size = static_cast<int64_t>(file->size());
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (size < kHeaderBytes) {
    return bad(
        absl::StrCat("truncated: ", size, " bytes, too short for the 28-byte llama2.c header"));
  }
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof(h));
  if (static_cast<uint32_t>(h[0]) == kVersionedMagic) {
    return bad(
        "llama2.c version 1/2 exports (magic \"ak42\") are not supported; export with "
        "--version 0 (legacy) or as a Hugging Face folder");
  }
  const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    int64_t v = i == 5 ? std::abs(static_cast<int64_t>(h[i])) : h[i];
    if (v <= 0 || v > kMaxDim) {
      return bad(absl::StrCat("header field ", names[i], " = ", h[i],
                              " is not a valid size (not a llama2.c checkpoint?)"));
    }
  }
  ModelConfig c;
  c.model_type = "llama";
  c.hidden_size = h[0];
  c.intermediate_size = h[1];
  c.num_layers = h[2];
  c.num_heads = h[3];
  c.num_kv_heads = h[4];
  c.vocab_size = std::abs(h[5]);
  c.tie_word_embeddings = h[5] > 0;
  c.max_position_embeddings = h[6];
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  c.torch_dtype = "float32";
  if (c.hidden_size % c.num_heads != 0) {
    return bad(
        absl::StrCat("header: dim ", c.hidden_size, " is not a multiple of n_heads ", c.num_heads));
  }
  c.head_dim = c.hidden_size / c.num_heads;
  PONDER_RETURN_IF_ERROR(c.Validate(path));

  const int64_t L = c.num_layers, D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t kv = c.num_kv_heads * c.head_dim, hd = c.head_dim;
  // The arrays in file order: llama2.c name, per-layer HF name pattern (or a whole-model name),
  // shape of one layer's slice.
  struct Array {
    const char* llama2c;
    std::string hf;  // "{}" is replaced by the layer index; empty: skipped
    std::vector<int64_t> shape;
    bool per_layer;
  };
  std::vector<Array> arrays = {
      {"token_embedding_table", "model.embed_tokens.weight", {V, D}, false},
      {"rms_att_weight", "model.layers.{}.input_layernorm.weight", {D}, true},
      {"wq", "model.layers.{}.self_attn.q_proj.weight", {D, D}, true},
      {"wk", "model.layers.{}.self_attn.k_proj.weight", {kv, D}, true},
      {"wv", "model.layers.{}.self_attn.v_proj.weight", {kv, D}, true},
      {"wo", "model.layers.{}.self_attn.o_proj.weight", {D, D}, true},
      {"rms_ffn_weight", "model.layers.{}.post_attention_layernorm.weight", {D}, true},
      {"w1", "model.layers.{}.mlp.gate_proj.weight", {F, D}, true},
      {"w2", "model.layers.{}.mlp.down_proj.weight", {D, F}, true},
      {"w3", "model.layers.{}.mlp.up_proj.weight", {F, D}, true},
      {"rms_final_weight", "model.norm.weight", {D}, false},
      {"freq_cis_real", "", {c.max_position_embeddings, hd / 2}, false},
      {"freq_cis_imag", "", {c.max_position_embeddings, hd / 2}, false},
  };
  if (!c.tie_word_embeddings) arrays.push_back({"wcls", "lm_head.weight", {V, D}, false});

  Llama2cCheckpoint out;
  int64_t offset = kHeaderBytes;
  for (const Array& a : arrays) {
    int64_t numel = 1;
    for (int64_t d : a.shape) numel *= d;
    const int64_t copies = a.per_layer ? L : 1;
    const int64_t bytes = numel * copies * 4;
    if (offset + bytes > size) {
      return bad(absl::StrCat("truncated: tensor '", a.llama2c, "'",
                              a.hf.empty() ? "" : absl::StrCat(" (", a.hf, ")"), " needs bytes [",
                              offset, ", ", offset + bytes, ") but the file has ", size));
    }
    for (int64_t l = 0; l < copies && !a.hf.empty(); ++l) {
      TensorData t;
      t.name = a.hf;
      if (a.per_layer) {
        t.name.replace(t.name.find("{}"), 2, std::to_string(l));
      }
      t.dtype = DType::kF32;
      t.shape = a.shape;
      t.nbytes = static_cast<size_t>(numel * 4);
      t.file = path;
      const float* src = reinterpret_cast<const float*>(file->data() + offset + l * numel * 4);
      const bool is_q = std::strcmp(a.llama2c, "wq") == 0;
      const bool is_k = std::strcmp(a.llama2c, "wk") == 0;
      if (is_q || is_k) {
        auto permuted = PermuteForRope(src, is_q ? c.num_heads : c.num_kv_heads, hd, D);
        t.data = permuted->data();
        t.owner = permuted;
      } else {
        t.data = src;
        t.owner = file;
      }
      out.tensors.push_back(std::move(t));
    }
    offset += bytes;
  }
  if (offset != size) {
    return bad(absl::StrCat("has ", size - offset, " bytes after the last tensor (expected ",
                            offset, " bytes in all for this header; wrong header or not a legacy ",
                            "llama2.c checkpoint)"));
  }
  out.config = std::move(c);
  return out;
}

}  // namespace ponder::model
