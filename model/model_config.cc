#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"

namespace ponder::model {
namespace {

using json = nlohmann::json;

struct Family {
  const char* model_type;
  const char* architecture;
};
constexpr Family kFamilies[] = {
    {"llama", "LlamaForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"},
    {"qwen3", "Qwen3ForCausalLM"},
};

// Reads fields of one config.json object, remembering the first error.
class FieldReader {
 public:
  FieldReader(const json& root, const std::string& file) : root_(root), file_(file) {}

  const absl::Status& status() const { return status_; }
  bool Has(const char* key) const { return root_.contains(key) && !root_.at(key).is_null(); }

  void Int(const char* key, int64_t& out, bool required) {
    if (!Has(key)) {
      if (required) Fail(key, "is missing");
      return;
    }
    const json& v = root_.at(key);
    if (!v.is_number_integer()) {
      Fail(key, absl::StrCat("must be an integer (got ", v.dump(), ")"));
      return;
    }
    out = v.get<int64_t>();
  }
  void Double(const char* key, double& out) {
    if (!Has(key)) return;
    const json& v = root_.at(key);
    if (!v.is_number()) {
      Fail(key, absl::StrCat("must be a number (got ", v.dump(), ")"));
      return;
    }
    out = v.get<double>();
  }
  void Bool(const char* key, bool& out) {
    if (!Has(key)) return;
    const json& v = root_.at(key);
    if (!v.is_boolean()) {
      Fail(key, absl::StrCat("must be true or false (got ", v.dump(), ")"));
      return;
    }
    out = v.get<bool>();
  }
  void String(const char* key, std::string& out, bool required) {
    if (!Has(key)) {
      if (required) Fail(key, "is missing");
      return;
    }
    const json& v = root_.at(key);
    if (!v.is_string()) {
      Fail(key, absl::StrCat("must be a string (got ", v.dump(), ")"));
      return;
    }
    out = v.get<std::string>();
  }
  // An id or a list of ids (eos_token_id may be either).
  void Ids(const char* key, std::vector<int64_t>& out) {
    if (!Has(key)) return;
    const json& v = root_.at(key);
    std::vector<int64_t> ids;
    if (v.is_number_integer()) {
      ids.push_back(v.get<int64_t>());
    } else if (v.is_array()) {
      for (const json& item : v) {
        if (!item.is_number_integer()) {
          Fail(key, absl::StrCat("must be an integer or a list of integers (got ", v.dump(), ")"));
          return;
        }
        ids.push_back(item.get<int64_t>());
      }
    } else {
      Fail(key, absl::StrCat("must be an integer or a list of integers (got ", v.dump(), ")"));
      return;
    }
    out = std::move(ids);
  }
  void Fail(const char* key, const std::string& what) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(file_, ": field '", key, "' ", what));
    }
  }

 private:
  const json& root_;
  const std::string& file_;
  absl::Status status_;
};

}  // namespace

absl::Status ModelConfig::Validate(const std::string& where) const {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
  };
  bool known = false;
  for (const Family& f : kFamilies) known |= model_type == f.model_type;
  if (!known) {
    return bad(
        absl::StrCat("unsupported model_type '", model_type, "' (supported: llama, qwen2, qwen3)"));
  }
  const std::pair<const char*, int64_t> positive[] = {
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_layers},
      {"num_attention_heads", num_heads},
      {"num_key_value_heads", num_kv_heads},
      {"head_dim", head_dim},
      {"max_position_embeddings", max_position_embeddings},
  };
  for (const auto& [name, value] : positive) {
    if (value <= 0) return bad(absl::StrCat(name, " must be > 0 (got ", value, ")"));
  }
  if (num_heads % num_kv_heads != 0) {
    return bad(absl::StrCat("num_attention_heads (", num_heads,
                            ") must be a multiple of num_key_value_heads (", num_kv_heads, ")"));
  }
  if (head_dim % 2 != 0) {
    return bad(absl::StrCat("head_dim must be even for rotary embeddings (got ", head_dim, ")"));
  }
  if (model_type == "qwen2" && (!qkv_bias || o_bias)) {
    return bad("qwen2 models have q/k/v biases and no o_proj bias");
  }
  if (model_type != "qwen2" && qkv_bias != o_bias) {
    return bad(absl::StrCat(model_type, " models have biases on all of q/k/v/o_proj or on none ",
                            "(attention_bias)"));
  }
  if (qk_norm != (model_type == "qwen3")) {
    return bad("q/k normalisation belongs to qwen3 models only");
  }
  if (!(rms_norm_eps > 0)) return bad(absl::StrCat("rms_norm_eps must be > 0"));
  if (!(rope_theta > 0)) return bad(absl::StrCat("rope_theta must be > 0"));
  if (bos_token_id < -1 || bos_token_id >= vocab_size) {
    return bad(
        absl::StrCat("bos_token_id ", bos_token_id, " is outside the vocabulary of ", vocab_size));
  }
  for (int64_t id : eos_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return bad(absl::StrCat("eos_token_id ", id, " is outside the vocabulary of ", vocab_size));
    }
  }
  return absl::OkStatus();
}

int64_t ModelConfig::NumParameters() const {
  const int64_t q = num_heads * head_dim, kv = num_kv_heads * head_dim;
  int64_t layer = hidden_size * q + 2 * hidden_size * kv + q * hidden_size +
                  3 * hidden_size * intermediate_size + 2 * hidden_size;
  if (qkv_bias) layer += q + 2 * kv;
  if (o_bias) layer += hidden_size;
  if (qk_norm) layer += 2 * head_dim;
  int64_t total = vocab_size * hidden_size + num_layers * layer + hidden_size;
  if (!tie_word_embeddings) total += vocab_size * hidden_size;
  return total;
}

absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& file) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": not valid JSON: ", e.what()));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": must be a JSON object"));
  }
  ModelConfig c;
  c.source_json = json_text;
  FieldReader r(root, file);
  r.String("model_type", c.model_type, /*required=*/true);
  PONDER_RETURN_IF_ERROR(r.status());
  bool known = false;
  for (const Family& f : kFamilies) known |= c.model_type == f.model_type;
  if (!known) {
    r.Fail("model_type",
           absl::StrCat("'", c.model_type, "' is not supported (supported: llama, qwen2, qwen3)"));
  }
  r.Int("vocab_size", c.vocab_size, true);
  r.Int("hidden_size", c.hidden_size, true);
  r.Int("intermediate_size", c.intermediate_size, true);
  r.Int("num_hidden_layers", c.num_layers, true);
  r.Int("num_attention_heads", c.num_heads, true);
  c.num_kv_heads = c.num_heads;
  r.Int("num_key_value_heads", c.num_kv_heads, false);
  r.Int("max_position_embeddings", c.max_position_embeddings, false);
  r.Double("rms_norm_eps", c.rms_norm_eps);
  r.Double("rope_theta", c.rope_theta);
  r.Bool("tie_word_embeddings", c.tie_word_embeddings);
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2Attention always has them; the config has no switch
  } else {
    bool attention_bias = false;
    r.Bool("attention_bias", attention_bias);
    c.qkv_bias = c.o_bias = attention_bias;
  }
  c.qk_norm = c.model_type == "qwen3";
  std::vector<int64_t> bos;
  r.Ids("bos_token_id", bos);
  if (bos.size() > 1) r.Fail("bos_token_id", "must be a single id");
  if (bos.size() == 1) c.bos_token_id = bos[0];
  r.Ids("eos_token_id", c.eos_token_ids);
  std::string dtype;
  r.String("torch_dtype", dtype, false);
  if (!dtype.empty()) c.torch_dtype = dtype;
  std::string act = "silu";
  r.String("hidden_act", act, false);
  if (act != "silu") r.Fail("hidden_act", absl::StrCat("'", act, "' is not supported (only silu)"));
  bool flag = false;
  r.Bool("mlp_bias", flag);
  if (flag) r.Fail("mlp_bias", "true is not supported");
  flag = false;
  r.Bool("use_sliding_window", flag);
  if (flag) r.Fail("use_sliding_window", "true is not supported");
  if (r.Has("rope_scaling")) {
    r.Fail("rope_scaling",
           absl::StrCat(root.at("rope_scaling").dump(), " is not supported (only plain RoPE)"));
  }
  PONDER_RETURN_IF_ERROR(r.status());
  if (c.num_heads > 0) c.head_dim = c.hidden_size / c.num_heads;
  if (r.Has("head_dim")) {
    r.Int("head_dim", c.head_dim, false);
  } else if (c.num_heads > 0 && c.hidden_size % c.num_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": hidden_size (", c.hidden_size,
                                                   ") must be a multiple of num_attention_heads (",
                                                   c.num_heads, ") when head_dim is not given"));
  }
  PONDER_RETURN_IF_ERROR(r.status());
  PONDER_RETURN_IF_ERROR(c.Validate(file));
  return c;
}

absl::StatusOr<ModelConfig> ReadHfConfig(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(std::string text, file::ReadFile(path));
  return ParseHfConfig(text, path);
}

std::string ToHfConfigJson(const ModelConfig& c) {
  json root = json::object();
  if (!c.source_json.empty()) {
    try {
      json source = json::parse(c.source_json);
      if (source.is_object()) root = std::move(source);
    } catch (const json::parse_error&) {
      // Only fields we own are written then.
    }
  }
  for (const Family& f : kFamilies) {
    if (c.model_type == f.model_type) root["architectures"] = {f.architecture};
  }
  root["model_type"] = c.model_type;
  root["vocab_size"] = c.vocab_size;
  root["hidden_size"] = c.hidden_size;
  root["intermediate_size"] = c.intermediate_size;
  root["num_hidden_layers"] = c.num_layers;
  root["num_attention_heads"] = c.num_heads;
  root["num_key_value_heads"] = c.num_kv_heads;
  root["head_dim"] = c.head_dim;
  root["max_position_embeddings"] = c.max_position_embeddings;
  root["rms_norm_eps"] = c.rms_norm_eps;
  root["rope_theta"] = c.rope_theta;
  root["tie_word_embeddings"] = c.tie_word_embeddings;
  root["hidden_act"] = "silu";
  if (c.model_type != "qwen2") root["attention_bias"] = c.qkv_bias;
  if (c.bos_token_id >= 0) {
    root["bos_token_id"] = c.bos_token_id;
  } else {
    root["bos_token_id"] = nullptr;
  }
  if (c.eos_token_ids.size() == 1) {
    root["eos_token_id"] = c.eos_token_ids[0];
  } else if (c.eos_token_ids.empty()) {
    root["eos_token_id"] = nullptr;
  } else {
    root["eos_token_id"] = c.eos_token_ids;
  }
  root["torch_dtype"] = c.torch_dtype;
  return root.dump(2) + "\n";
}

}  // namespace ponder::model
