#include "model/model_options.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ponder::model {

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFloat32:
      return "float32";
    case Precision::kBFloat16:
      return "bfloat16";
    case Precision::kFloat16:
      return "float16";
  }
  return "?";
}

void ModelOptions::Bind(config::Binder& b) {
  b.Field("path", path);
  b.Field("tokenizer", tokenizer);
  b.Enum("dtype", dtype,
         {{"float32", Precision::kFloat32},
          {"bfloat16", Precision::kBFloat16},
          {"float16", Precision::kFloat16}});
  b.Enum("master_dtype", master_dtype,
         {{"float32", MasterPrecision::kFloat32}, {"same", MasterPrecision::kSame}});
  b.Field("device", device)
      .Must(ValidateDeviceName(device).ok(), "be cpu, cuda or cuda:N (got '" + device + "')");
  b.Field("value_head", value_head);
  b.Field("logits_chunk_tokens", logits_chunk_tokens).AtLeast(1);
  b.Field("logits_keep_mb", logits_keep_mb).AtLeast(0);
  b.Field("share_prompts", share_prompts);
  b.Field("chat_template", chat_template);
  b.Field("init", init);
}

void ModelInitOptions::Bind(config::Binder& b) {
  b.Field("model_type", model_type)
      .Must(model_type == "llama" || model_type == "qwen2" || model_type == "qwen3",
            "be llama, qwen2 or qwen3 (got '" + model_type + "')");
  b.Field("hidden_size", hidden_size).AtLeast(1);
  b.Field("intermediate_size", intermediate_size).AtLeast(1);
  b.Field("num_layers", num_layers).AtLeast(1);
  b.Field("num_heads", num_heads).AtLeast(1);
  b.Field("num_kv_heads", num_kv_heads).AtLeast(1);
  b.Field("max_position_embeddings", max_position_embeddings).AtLeast(2);
  b.Field("rope_theta", rope_theta).GreaterThan(0.0);
  b.Field("rms_norm_eps", rms_norm_eps).GreaterThan(0.0);
  b.Field("tie_word_embeddings", tie_word_embeddings);
}

absl::StatusOr<ModelConfig> ModelInitOptions::ToModelConfig(int64_t vocab_size) const {
  ModelConfig config;
  config.model_type = model_type;
  config.vocab_size = vocab_size;
  config.hidden_size = hidden_size;
  config.intermediate_size = intermediate_size;
  config.num_layers = num_layers;
  config.num_heads = num_heads;
  config.num_kv_heads = num_kv_heads;
  config.head_dim = num_heads > 0 ? hidden_size / num_heads : 0;
  config.max_position_embeddings = max_position_embeddings;
  config.rope_theta = rope_theta;
  config.rms_norm_eps = rms_norm_eps;
  config.tie_word_embeddings = tie_word_embeddings;
  config.qkv_bias = model_type == "qwen2";
  config.qk_norm = model_type == "qwen3";
  if (hidden_size % num_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model.init.hidden_size (", hidden_size,
                                                   ") must be a multiple of num_heads (", num_heads,
                                                   ")"));
  }
  if (absl::Status s = config.Validate("model.init"); !s.ok()) return s;
  return config;
}

absl::Status ModelOptions::Validate() const {
  if (dtype == Precision::kFloat16 && device == "cpu") {
    return absl::InvalidArgumentError(
        "dtype float16 is not supported on the CPU (LibTorch has no CPU half-precision matrix "
        "products); use float32 or bfloat16, or a cuda device");
  }
  return absl::OkStatus();
}

absl::Status ValidateDeviceName(const std::string& device) {
  if (device == "cpu" || device == "cuda") return absl::OkStatus();
  int index = 0;
  if (absl::StartsWith(device, "cuda:") && absl::SimpleAtoi(device.substr(5), &index) &&
      index >= 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device '", device, "' (use cpu, cuda or cuda:N)"));
}

}  // namespace ponder::model
