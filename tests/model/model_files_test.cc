// Checkpoint file formats, model configs and sampling: the parts of ponder::model that do not
// need LibTorch. Every bad-file case checks the message names the file and the tensor/field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "model/llama2c.h"
#include "model/model_config.h"
#include "model/model_options.h"
#include "model/safetensors.h"
#include "tests/testing.h"

namespace ponder::model {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

std::string TempDir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / ("model_files_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A safetensors file from a header given as JSON text and the data bytes.
std::string Safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}

TensorData Tensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                  const void* data, size_t nbytes) {
  TensorData t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data = data;
  t.nbytes = nbytes;
  return t;
}

std::string Floats(std::initializer_list<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

// ---- safetensors ------------------------------------------------------------------------

TEST(SafetensorsTest, ReadsWhatItWrites) {
  const std::string dir = TempDir("roundtrip");
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const uint16_t b[3] = {0x3f80, 0x4000, 0xc040};  // bf16 1, 2, -3
  std::vector<TensorData> tensors(2);
  tensors[0] = Tensor("a", DType::kF32, {2, 3}, a, sizeof(a));
  tensors[1] = Tensor("b.weight", DType::kBF16, {3}, b, sizeof(b));
  const std::string path = dir + "/x.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());

  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata().at("format"), "pt");
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorData* ta = file->Find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, DType::kF32);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(ta->data, a, sizeof(a)), 0);
  const TensorData* tb = file->Find("b.weight");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->dtype, DType::kBF16);
  EXPECT_EQ(std::memcmp(tb->data, b, sizeof(b)), 0);
  EXPECT_EQ(file->Find("c"), nullptr);
  // The data starts 8-byte aligned, as the header is padded.
  const std::string bytes = testing::ReadFile(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(SafetensorsTest, ReadsAFileWrittenByHand) {
  const std::string dir = TempDir("by_hand");
  const std::string path = dir + "/m.safetensors";
  WriteBytes(path, Safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("__metadata__":{"k":"v"}})",
                               Floats({1.5f, -2.0f})));
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  // This header's length leaves the data unaligned: copy rather than read floats in place.
  float w[2];
  std::memcpy(w, file->Find("w")->data, sizeof(w));
  EXPECT_EQ(w[0], 1.5f);
  EXPECT_EQ(w[1], -2.0f);
}

struct BadFile {
  std::string name;
  std::string bytes;
  std::vector<std::string> expected;  // substrings of the message
};

TEST(SafetensorsTest, BadFilesAreRejectedWithTheFileAndTensorNamed) {
  const std::string two_floats = Floats({1, 2});
  const std::vector<BadFile> cases = {
      {"tiny", "abc", {"truncated: 3 bytes"}},
      {"header_past_end",
       Safetensors("{}", "").substr(0, 8) + "{",
       {"header length 2 runs past the end of the 9-byte file"}},
      {"not_json", Safetensors("{nope", ""), {"header is not valid JSON"}},
      {"not_object", Safetensors("[1,2]", ""), {"header is not a JSON object"}},
      {"truncated_data",
       Safetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", two_floats),
       {"tensor 'w'", "data_offsets [0, 16] run past the end of the 8 data bytes"}},
      {"offsets_disagree_with_shape",
       Safetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", two_floats),
       {"tensor 'w'", "hold 8 bytes but F32 [3] needs 12"}},
      {"reversed_offsets",
       Safetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", two_floats),
       {"tensor 'w'", "reversed"}},
      {"overlap",
       Safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   two_floats),
       {"tensor 'b'", "overlap those of tensor 'a'"}},
      {"unknown_dtype",
       Safetensors(R"({"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})", two_floats),
       {"tensor 'w'", "unknown dtype 'F7'"}},
      {"no_shape",
       Safetensors(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", two_floats),
       {"tensor 'w'", "no \"shape\" array"}},
      {"negative_dim",
       Safetensors(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", two_floats),
       {"tensor 'w'", "bad dimension -2"}},
      {"bad_offsets",
       Safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", two_floats),
       {"tensor 'w'", "needs \"data_offsets\": [begin, end]"}},
      {"metadata_not_strings",
       Safetensors(R"({"__metadata__":{"a":1}})", ""),
       {"\"__metadata__\" value of 'a'"}},
  };
  const std::string dir = TempDir("bad");
  for (const BadFile& c : cases) {
    const std::string path = dir + "/" + c.name + ".safetensors";
    WriteBytes(path, c.bytes);
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok()) << c.name;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(path + ": ")) << c.name;
    for (const std::string& e : c.expected) {
      EXPECT_THAT(std::string(file.status().message()), HasSubstr(e)) << c.name;
    }
  }
  absl::StatusOr<SafetensorsFile> missing = SafetensorsFile::Open(dir + "/none.safetensors");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("none.safetensors"));
}

TEST(SafetensorsTest, WriterRefusesInconsistentTensors) {
  const std::string dir = TempDir("writer");
  const float a[2] = {1, 2};
  std::vector<TensorData> t = {Tensor("a", DType::kF32, {3}, a, sizeof(a))};
  absl::Status s = WriteSafetensors(dir + "/x.safetensors", t);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tensor 'a' has 8 bytes but F32 [3] needs 12"));
  t = {Tensor("a", DType::kF32, {2}, a, sizeof(a)), Tensor("a", DType::kF32, {2}, a, sizeof(a))};
  s = WriteSafetensors(dir + "/x.safetensors", t);
  EXPECT_THAT(std::string(s.message()), HasSubstr("duplicate or reserved tensor name 'a'"));
}

TEST(SafetensorsTest, FolderWritesShardsAndAnIndexAndReadsThemBack) {
  const std::string dir = TempDir("shards");
  std::vector<float> data(40);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);
  std::vector<TensorData> tensors;
  for (int i = 0; i < 4; ++i) {
    tensors.push_back(Tensor("t" + std::to_string(i), DType::kF32, {10}, data.data() + 10 * i, 40));
  }
  // 40 bytes each, at most 100 per shard: [t0, t1], [t2, t3].
  ASSERT_TRUE(WriteSafetensorsFolder(dir, tensors, 100).ok());
  EXPECT_TRUE(fs::exists(dir + "/model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/model-00002-of-00002.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
  json index = json::parse(testing::ReadFile(dir + "/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 160);
  EXPECT_EQ(index["weight_map"]["t3"], "model-00002-of-00002.safetensors");

  absl::StatusOr<SafetensorsCheckpoint> ckpt = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->files().size(), 2u);
  EXPECT_EQ(ckpt->Names(), (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
  for (int i = 0; i < 4; ++i) {
    const TensorData* t = ckpt->Find("t" + std::to_string(i));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(std::memcmp(t->data, data.data() + 10 * i, 40), 0);
  }
  // Saving again unsharded replaces the shards.
  ASSERT_TRUE(WriteSafetensorsFolder(dir, tensors, 0).ok());
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/model-00001-of-00002.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.index.json"));
  ckpt = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->Names().size(), 4u);
}

TEST(SafetensorsTest, BadIndexesAreRejected) {
  const std::string dir = TempDir("bad_index");
  const float a[2] = {1, 2};
  ASSERT_TRUE(WriteSafetensors(dir + "/model-00001-of-00001.safetensors",
                               {Tensor("a", DType::kF32, {2}, a, sizeof(a))})
                  .ok());
  const std::string index = dir + "/model.safetensors.index.json";
  WriteBytes(index, R"({"weight_map": {"a": "model-00001-of-00001.safetensors",
                                        "b": "model-00001-of-00001.safetensors"}})");
  absl::StatusOr<SafetensorsCheckpoint> ckpt = SafetensorsCheckpoint::Open(dir);
  EXPECT_THAT(std::string(ckpt.status().message()),
              AllOf(HasSubstr(index), HasSubstr("weight_map puts tensor 'b' in"),
                    HasSubstr("which does not contain it")));

  WriteBytes(index, R"({"weight_map": {"a": "model-00002-of-00002.safetensors"}})");
  ckpt = SafetensorsCheckpoint::Open(dir);
  EXPECT_THAT(std::string(ckpt.status().message()),
              AllOf(HasSubstr("lists shard 'model-00002-of-00002.safetensors' for 'a'"),
                    HasSubstr("cannot open")));

  WriteBytes(index, R"({"weight_map": {"a": "../../etc/passwd"}})");
  ckpt = SafetensorsCheckpoint::Open(dir);
  EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr("which is not a file in the folder"));

  WriteBytes(index, R"({"metadata": {}})");
  ckpt = SafetensorsCheckpoint::Open(dir);
  EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr("needs a \"weight_map\" object"));

  WriteBytes(index, "{");
  ckpt = SafetensorsCheckpoint::Open(dir);
  EXPECT_THAT(std::string(ckpt.status().message()),
              AllOf(HasSubstr(index), HasSubstr("not valid JSON")));

  const std::string empty = TempDir("empty_folder");
  ckpt = SafetensorsCheckpoint::Open(empty);
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(ckpt.status().message()),
              HasSubstr("no model.safetensors or model.safetensors.index.json in"));
}

// ---- config.json ------------------------------------------------------------------------

const char kQwen2Config[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936,
  "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
  "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": true,
  "hidden_act": "silu", "bos_token_id": 151643, "eos_token_id": 151643, "torch_dtype": "bfloat16",
  "sliding_window": 32768, "use_sliding_window": false, "transformers_version": "4.43.1"})";

TEST(ModelConfigTest, ReadsQwen2) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(kQwen2Config, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen2");
  EXPECT_EQ(c->vocab_size, 151936);
  EXPECT_EQ(c->hidden_size, 896);
  EXPECT_EQ(c->num_layers, 24);
  EXPECT_EQ(c->num_heads, 14);
  EXPECT_EQ(c->num_kv_heads, 2);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_FALSE(c->o_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{151643}));
  // Qwen2.5-0.5B has 494,032,768 parameters (the published count).
  EXPECT_EQ(c->NumParameters(), 494032768);
}

TEST(ModelConfigTest, ReadsLlamaAndQwen3Defaults) {
  absl::StatusOr<ModelConfig> llama = ParseHfConfig(
      R"({"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096,
          "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
          "eos_token_id": [2, 3]})",
      "llama.json");
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->num_kv_heads, 32);
  EXPECT_FALSE(llama->qkv_bias);
  EXPECT_FALSE(llama->tie_word_embeddings);
  EXPECT_EQ(llama->bos_token_id, -1);
  EXPECT_EQ(llama->eos_token_ids, (std::vector<int64_t>{2, 3}));
  // LLaMA-2 7B: 6,738,415,616 parameters.
  EXPECT_EQ(llama->NumParameters(), 6738415616);

  absl::StatusOr<ModelConfig> qwen3 = ParseHfConfig(
      R"({"model_type": "qwen3", "vocab_size": 151936, "hidden_size": 1024, "head_dim": 128,
          "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
          "num_key_value_heads": 8, "tie_word_embeddings": true, "attention_bias": false})",
      "qwen3.json");
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_EQ(qwen3->head_dim, 128);
  EXPECT_TRUE(qwen3->qk_norm);
  EXPECT_FALSE(qwen3->qkv_bias);
  // By hand: embedding 151936*1024 = 155,582,464; per layer q 1024*2048 (2,097,152) + k and v
  // 1024*1024 each (2,097,152) + o 2048*1024 (2,097,152) + MLP 3*1024*3072 (9,437,184) + norms
  // 2*1024 + q/k norms 2*128 = 15,730,944; 28 layers 440,466,432; final norm 1024.
  // Total 596,049,920, the count transformers reports for Qwen3-0.6B.
  EXPECT_EQ(qwen3->NumParameters(), 596049920);
}

TEST(ModelConfigTest, WritesBackWhatItReadsAndKeepsOtherFields) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(kQwen2Config, "config.json");
  ASSERT_TRUE(c.ok());
  c->num_layers = 3;
  std::string text = ToHfConfigJson(*c);
  json j = json::parse(text);
  EXPECT_EQ(j["num_hidden_layers"], 3);
  EXPECT_EQ(j["sliding_window"], 32768);  // kept from the source
  EXPECT_EQ(j["transformers_version"], "4.43.1");
  EXPECT_EQ(j["architectures"][0], "Qwen2ForCausalLM");
  absl::StatusOr<ModelConfig> again = ParseHfConfig(text, "again.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->num_layers, 3);
  EXPECT_EQ(again->head_dim, c->head_dim);
  EXPECT_EQ(again->rope_theta, c->rope_theta);
  EXPECT_EQ(again->rms_norm_eps, c->rms_norm_eps);
  EXPECT_EQ(again->tie_word_embeddings, c->tie_word_embeddings);
  EXPECT_EQ(again->eos_token_ids, c->eos_token_ids);
}

TEST(ModelConfigTest, BadConfigsNameTheFileAndField) {
  const std::string base =
      R"("vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 4)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "cfg.json: not valid JSON"},
      {"[]", "cfg.json: must be a JSON object"},
      {"{" + base + "}", "cfg.json: field 'model_type' is missing"},
      {R"({"model_type": "gpt2", )" + base + "}",
       "field 'model_type' 'gpt2' is not supported (supported: llama, qwen2, qwen3)"},
      {R"({"model_type": "llama", "hidden_size": 64})", "field 'vocab_size' is missing"},
      {R"({"model_type": "llama", )" + base + R"(, "num_key_value_heads": "two"})",
       "field 'num_key_value_heads' must be an integer (got \"two\")"},
      {R"({"model_type": "llama", )" + base + R"(, "num_key_value_heads": 3})",
       "num_attention_heads (4) must be a multiple of num_key_value_heads (3)"},
      {R"({"model_type": "llama", )" + base + R"(, "num_attention_heads": 5})",
       "hidden_size (64) must be a multiple of num_attention_heads (5)"},
      {R"({"model_type": "llama", )" + base + R"(, "hidden_size": 0})",
       "hidden_size must be > 0 (got 0)"},
      {R"({"model_type": "llama", )" + base + R"(, "rms_norm_eps": "small"})",
       "field 'rms_norm_eps' must be a number"},
      {R"({"model_type": "llama", )" + base + R"(, "tie_word_embeddings": 1})",
       "field 'tie_word_embeddings' must be true or false"},
      {R"({"model_type": "llama", )" + base + R"(, "hidden_act": "gelu"})",
       "field 'hidden_act' 'gelu' is not supported (only silu)"},
      {R"({"model_type": "llama", )" + base + R"(, "rope_scaling": {"type": "linear"}})",
       "field 'rope_scaling' {\"type\":\"linear\"} is not supported"},
      {R"({"model_type": "qwen2", )" + base + R"(, "use_sliding_window": true})",
       "field 'use_sliding_window' true is not supported"},
      {R"({"model_type": "llama", )" + base + R"(, "eos_token_id": 100})",
       "eos_token_id 100 is outside the vocabulary of 100"},
      {R"({"model_type": "llama", )" + base + R"(, "eos_token_id": [1, "x"]})",
       "field 'eos_token_id' must be an integer or a list of integers"},
      {R"({"model_type": "llama", )" + base + R"(, "head_dim": 15})",
       "head_dim must be even for rotary embeddings (got 15)"},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<ModelConfig> c = ParseHfConfig(text, "cfg.json");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()),
                AllOf(HasSubstr("cfg.json"), HasSubstr(expected)))
        << text;
  }
  absl::StatusOr<ModelConfig> missing = ReadHfConfig("/nonexistent/config.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(ModelOptionsTest, ValidatesDeviceAndDtype) {
  auto load = [](const std::string& yaml) {
    struct Job {
      ModelOptions model;
      void Bind(config::Binder& b) { b.Field("model", model); }
    };
    return config::LoadString<Job>(yaml, "job.yaml");
  };
  auto ok = load("model:\n  path: m\n  dtype: bfloat16\n  device: cuda:1\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->model.dtype, Precision::kBFloat16);
  EXPECT_EQ(ok->model.device, "cuda:1");
  auto bad = load("model:\n  device: tpu\n");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("model.device must be cpu, cuda or cuda:N (got 'tpu')"));
  bad = load("model:\n  dtype: float8\n");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("unknown value 'float8' (choose one of: float32, bfloat16, float16)"));
  bad = load("model:\n  dtype: float16\n");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("dtype float16 is not supported on the CPU"));
  bad = load("model:\n  logits_chunk_tokens: 0\n");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("model.logits_chunk_tokens must be >= 1 (got 0)"));
}

// ---- llama2.c -----------------------------------------------------------------------------

const char kStories[] = "tests/data/model/stories260K/stories260K.bin";

TEST(Llama2cTest, ReadsStories260K) {
  absl::StatusOr<Llama2cCheckpoint> ckpt = ReadLlama2cCheckpoint(testing::SourcePath(kStories));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const ModelConfig& c = ckpt->config;
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  // 1 + 5 * 9 layer tensors + final norm; no lm_head (tied).
  EXPECT_EQ(ckpt->tensors.size(), 1u + 5 * 9 + 1);
  // The header plus these weights plus two RoPE tables is the whole file.
  EXPECT_EQ(28 + 4 * (c.NumParameters() + 2 * 512 * 4), 1056540);

  // q_proj rows are permuted from interleaved pairs to halves: new row p*4+i = old row 2i+p
  // within each head of 8. Check against the raw file bytes.
  const std::string raw = testing::ReadFile(testing::SourcePath(kStories));
  const int64_t wq_offset = 28 + 4 * (512 * 64 + 5 * 64);
  const float* file_wq = reinterpret_cast<const float*>(raw.data() + wq_offset);
  const TensorData* q = nullptr;
  for (const TensorData& t : ckpt->tensors) {
    if (t.name == "model.layers.0.self_attn.q_proj.weight") q = &t;
  }
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  const float* ours = static_cast<const float*>(q->data);
  for (int h = 0; h < 8; ++h) {
    for (int p = 0; p < 2; ++p) {
      for (int i = 0; i < 4; ++i) {
        for (int col = 0; col < 64; ++col) {
          ASSERT_EQ(ours[(h * 8 + p * 4 + i) * 64 + col], file_wq[(h * 8 + 2 * i + p) * 64 + col]);
        }
      }
    }
  }
}

TEST(Llama2cTest, BadFilesNameTheFileAndTensor) {
  const std::string raw = testing::ReadFile(testing::SourcePath(kStories));
  const std::string dir = TempDir("llama2c");
  auto check = [&](const std::string& name, const std::string& bytes,
                   const std::vector<std::string>& expected) {
    const std::string path = dir + "/" + name + ".bin";
    WriteBytes(path, bytes);
    absl::StatusOr<Llama2cCheckpoint> ckpt = ReadLlama2cCheckpoint(path);
    ASSERT_FALSE(ckpt.ok()) << name;
    EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr(path + ": ")) << name;
    for (const std::string& e : expected) {
      EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr(e)) << name;
    }
  };
  check("short_header", raw.substr(0, 20), {"too short for the 28-byte llama2.c header"});
  // Cut inside w1 (after token embedding, norms, wq, wk, wv, wo, ffn norms).
  const int64_t w1_offset =
      28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 * 2 + 5 * 32 * 64 * 2 + 5 * 64);
  check("truncated", raw.substr(0, w1_offset + 100),
        {"truncated: tensor 'w1' (model.layers.{}.mlp.gate_proj.weight) needs bytes [",
         "but the file has " + std::to_string(w1_offset + 100)});
  check("trailing", raw + "xyz", {"has 3 bytes after the last tensor"});
  std::string bad_heads = raw;
  int32_t three = 3;
  std::memcpy(bad_heads.data() + 16, &three, 4);  // n_kv_heads = 3
  check("bad_heads", bad_heads,
        {"num_attention_heads (8) must be a multiple of num_key_value_heads (3)"});
  std::string zero_dim = raw;
  int32_t zero = 0;
  std::memcpy(zero_dim.data(), &zero, 4);
  check("zero_dim", zero_dim, {"header field dim = 0 is not a valid size"});
  std::string magic = raw;
  uint32_t ak42 = 0x616b3432;
  std::memcpy(magic.data(), &ak42, 4);
  check("versioned", magic, {"version 1/2 exports (magic \"ak42\") are not supported"});
}

}  // namespace
}  // namespace ponder::model
