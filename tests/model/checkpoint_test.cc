// Hugging Face folders and llama2.c checkpoints through LoadModel / SaveHfFolder: exact round
// trips, shards, dtypes, and a named error for every bad file.
#include "model/checkpoint.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/kv_cache.h"
#include "model/safetensors.h"
#include "tests/testing.h"

namespace ponder::model {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

const char kQwen2[] = "tests/data/model/tiny/qwen2";
const char kStories[] = "tests/data/model/stories260K/stories260K.bin";

std::string TempDir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / ("checkpoint_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

absl::StatusOr<Decoder> LoadPath(const std::string& path, Precision dtype = Precision::kFloat32,
                                 bool value_head = false) {
  ModelOptions options;
  options.path = path;
  options.dtype = dtype;
  options.value_head = value_head;
  return LoadModel(options);
}

void ExpectSameWeights(const Decoder& a, const Decoder& b) {
  auto pa = a->named_parameters();
  auto pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) {
    ASSERT_TRUE(pb.contains(p.key())) << p.key();
    EXPECT_EQ(p.value().scalar_type(), pb[p.key()].scalar_type()) << p.key();
    EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
  }
}

TEST(CheckpointTest, SaveThenLoadIsExact) {
  absl::StatusOr<Decoder> model = LoadPath(testing::SourcePath(kQwen2));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string dir = TempDir("roundtrip");
  ASSERT_TRUE(SaveHfFolder(*model, dir).ok());
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors"));
  absl::StatusOr<Decoder> again = LoadPath(dir);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameWeights(*model, *again);
  const ModelConfig& a = (*model)->config();
  const ModelConfig& b = (*again)->config();
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  // Fields Ponder does not use survive (from the reference script's config.json).
  json saved = json::parse(testing::ReadFile(dir + "/config.json"));
  EXPECT_EQ(saved["transformers_version"], "4.45.0");
  EXPECT_EQ(saved["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_EQ(saved["torch_dtype"], "float32");
  // The written file holds exactly what the reference script wrote, tensor for tensor.
  absl::StatusOr<SafetensorsCheckpoint> original =
      SafetensorsCheckpoint::Open(testing::SourcePath(kQwen2));
  absl::StatusOr<SafetensorsCheckpoint> written = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(original.ok() && written.ok());
  EXPECT_EQ(original->Names(), written->Names());
  for (const std::string& name : original->Names()) {
    const TensorData* x = original->Find(name);
    const TensorData* y = written->Find(name);
    ASSERT_EQ(x->nbytes, y->nbytes) << name;
    EXPECT_EQ(std::memcmp(x->data, y->data, x->nbytes), 0) << name;
  }
}

TEST(CheckpointTest, ShardedSaveLoadsTheSame) {
  absl::StatusOr<Decoder> model = LoadPath(testing::SourcePath(kQwen2));
  ASSERT_TRUE(model.ok());
  const std::string dir = TempDir("sharded");
  SaveOptions options;
  options.max_shard_bytes = 20000;
  ASSERT_TRUE(SaveHfFolder(*model, dir, options).ok());
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    shards += e.path().filename().string().rfind("model-", 0) == 0;
  }
  EXPECT_GT(shards, 2);
  absl::StatusOr<Decoder> again = LoadPath(dir);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameWeights(*model, *again);
}

TEST(CheckpointTest, LowPrecisionFoldersAndConversions) {
  // A bf16 folder loaded as float32 holds exactly the bf16 values.
  absl::StatusOr<Decoder> f32 = LoadPath(testing::SourcePath(kQwen2));
  absl::StatusOr<Decoder> from_bf16 =
      LoadPath(testing::SourcePath("tests/data/model/tiny/qwen2_bf16"));
  ASSERT_TRUE(f32.ok() && from_bf16.ok());
  auto p32 = (*f32)->named_parameters();
  for (const auto& p : (*from_bf16)->named_parameters()) {
    EXPECT_TRUE(at::equal(p.value(), p32[p.key()].to(at::kBFloat16).to(at::kFloat))) << p.key();
  }
  // Saving as bf16 and loading as bf16 is exact; config.json says bfloat16.
  absl::StatusOr<Decoder> bf16 = LoadPath(testing::SourcePath(kQwen2), Precision::kBFloat16);
  ASSERT_TRUE(bf16.ok());
  const std::string dir = TempDir("bf16");
  ASSERT_TRUE(SaveHfFolder(*bf16, dir).ok());
  EXPECT_EQ(json::parse(testing::ReadFile(dir + "/config.json"))["torch_dtype"], "bfloat16");
  absl::StatusOr<Decoder> again = LoadPath(dir, Precision::kBFloat16);
  ASSERT_TRUE(again.ok());
  ExpectSameWeights(*bf16, *again);
  // Explicit save dtype.
  SaveOptions half;
  half.dtype = Precision::kFloat16;
  ASSERT_TRUE(SaveHfFolder(*f32, dir, half).ok());
  absl::StatusOr<SafetensorsCheckpoint> written = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->Find("lm_head.weight")->dtype, DType::kF16);
}

TEST(CheckpointTest, UnalignedDataLoads) {
  // One more space in the header moves every tensor off 4-byte alignment.
  const std::string bytes =
      testing::ReadFile(testing::SourcePath(std::string(kQwen2) + "/model.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  std::string shifted(8, '\0');
  for (int i = 0; i < 8; ++i) shifted[i] = static_cast<char>((n + 1) >> (8 * i));
  shifted += bytes.substr(8, n) + " " + bytes.substr(8 + n);
  const std::string dir = TempDir("unaligned");
  fs::copy_file(testing::SourcePath(std::string(kQwen2) + "/config.json"), dir + "/config.json");
  std::ofstream(dir + "/model.safetensors", std::ios::binary) << shifted;
  absl::StatusOr<Decoder> model = LoadPath(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Decoder> original = LoadPath(testing::SourcePath(kQwen2));
  ASSERT_TRUE(original.ok());
  ExpectSameWeights(*original, *model);
}

TEST(CheckpointTest, ValueHeadIsSavedAndLoaded) {
  absl::StatusOr<Decoder> model = LoadPath(testing::SourcePath(kQwen2), Precision::kFloat32, true);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string dir = TempDir("value_head");
  ASSERT_TRUE(SaveHfFolder(*model, dir).ok());
  absl::StatusOr<Decoder> critic = LoadPath(dir, Precision::kFloat32, true);
  ASSERT_TRUE(critic.ok()) << critic.status();
  ExpectSameWeights(*model, *critic);
  // A policy loaded from the same folder ignores the value head.
  absl::StatusOr<Decoder> policy = LoadPath(dir);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE((*policy)->has_value_head());
}

TEST(CheckpointTest, TokenizerFilesAreCopied) {
  absl::StatusOr<Decoder> model = LoadPath(testing::SourcePath(kQwen2));
  ASSERT_TRUE(model.ok());
  const std::string source = TempDir("tok_source");
  std::ofstream(source + "/tokenizer.json") << R"({"model": {}})";
  std::ofstream(source + "/tokenizer_config.json") << "{}";
  const std::string dir = TempDir("with_tokenizer");
  SaveOptions options;
  options.tokenizer_dir = source;
  ASSERT_TRUE(SaveHfFolder(*model, dir, options).ok());
  EXPECT_EQ(testing::ReadFile(dir + "/tokenizer.json"), R"({"model": {}})");
  EXPECT_TRUE(fs::exists(dir + "/tokenizer_config.json"));
  EXPECT_FALSE(fs::exists(dir + "/tokenizer.model"));
}

TEST(CheckpointTest, Llama2cModelSavesAsAHfFolderThatComputesTheSame) {
  absl::StatusOr<Decoder> model = LoadPath(testing::SourcePath(kStories));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string dir = TempDir("stories_hf");
  ASSERT_TRUE(SaveHfFolder(*model, dir).ok());
  json config = json::parse(testing::ReadFile(dir + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["rms_norm_eps"], 1e-5);
  EXPECT_EQ(config["num_key_value_heads"], 4);
  absl::StatusOr<Decoder> again = LoadPath(dir);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameWeights(*model, *again);
}

TEST(CheckpointTest, GenerateRunsFromASavedFolderWithItsTokenizer) {
  // stories260K saved as a Hugging Face folder, its llama2.c tokenizer copied in as
  // tokenizer.bin: `ponder generate --model FOLDER` finds the tokenizer and prints llama2.c's
  // published greedy text.
  absl::StatusOr<Decoder> model = LoadPath(testing::SourcePath(kStories));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string dir = TempDir("stories_generate");
  const std::string tokenizer_dir = TempDir("stories_tokenizer");
  fs::copy_file(testing::SourcePath("tests/data/model/stories260K/tok512.bin"),
                tokenizer_dir + "/tokenizer.bin");
  SaveOptions options;
  options.tokenizer_dir = tokenizer_dir;
  ASSERT_TRUE(SaveHfFolder(*model, dir, options).ok());
  json ref = json::parse(testing::ReadFile(
      testing::SourcePath("tests/data/model/stories260K/reference_outputs.json")));
  testing::CommandResult r =
      testing::RunCommand(testing::BinaryPath("cli/ponder") + " generate --model " + dir +
                          " --prompt '' --temperature 0 --max-new-tokens 200");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ref["published"][0]["expected_text"].get<std::string>());
}

// ---- bad files -----------------------------------------------------------------------------

// Copies the tiny Qwen2 folder and rewrites its weights through `edit`.
std::string EditedFolder(const std::string& name,
                         const std::function<void(std::vector<TensorData>&)>& edit) {
  const std::string dir = TempDir(name);
  fs::copy_file(testing::SourcePath(std::string(kQwen2) + "/config.json"), dir + "/config.json");
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Open(testing::SourcePath(std::string(kQwen2) + "/model.safetensors"));
  EXPECT_TRUE(file.ok());
  std::vector<TensorData> tensors = file->tensors();
  edit(tensors);
  EXPECT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
  return dir;
}

TEST(CheckpointTest, BadWeightsNameTheFileAndTensor) {
  static const int32_t ints[64 * 32] = {};
  static const float floats[64 * 33] = {};
  struct Case {
    std::string name;
    std::function<void(std::vector<TensorData>&)> edit;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"missing",
       [](auto& t) {
         t.erase(std::remove_if(t.begin(), t.end(),
                                [](const TensorData& x) {
                                  return x.name == "model.layers.1.mlp.up_proj.weight";
                                }),
                 t.end());
       },
       {"missing tensor 'model.layers.1.mlp.up_proj.weight' (expected [48, 32])"}},
      {"misshaped",
       [](auto& t) {
         for (auto& x : t) {
           if (x.name == "lm_head.weight") {
             x.shape = {64, 33};
             x.data = floats;
             x.nbytes = sizeof(floats);
           }
         }
       },
       {"model.safetensors: tensor 'lm_head.weight' has shape [64, 33], expected [64, 32]"}},
      {"int_weights",
       [](auto& t) {
         for (auto& x : t) {
           if (x.name == "model.embed_tokens.weight") {
             x.dtype = DType::kI32;
             x.data = ints;
           }
         }
       },
       {"model.safetensors: tensor 'model.embed_tokens.weight' has unsupported dtype I32 "
        "(weights must be F32, F16 or BF16)"}},
      {"unexpected",
       [](auto& t) {
         TensorData extra = t[0];
         extra.name = "model.layers.2.mlp.up_proj.weight";
         t.push_back(extra);
       },
       {"model.safetensors: unexpected tensor 'model.layers.2.mlp.up_proj.weight'",
        "(2 layers, model_type qwen2"}},
  };
  for (const Case& c : cases) {
    const std::string dir = EditedFolder(c.name, c.edit);
    absl::StatusOr<Decoder> model = LoadPath(dir);
    ASSERT_FALSE(model.ok()) << c.name;
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(dir)) << c.name;
    for (const std::string& e : c.expected) {
      EXPECT_THAT(std::string(model.status().message()), HasSubstr(e)) << c.name;
    }
  }
  // Extra tensors transformers tolerates are ignored.
  const std::string dir = EditedFolder("ignorable", [](auto& t) {
    TensorData extra = t[0];
    extra.name = "model.layers.0.self_attn.rotary_emb.inv_freq";
    t.push_back(extra);
  });
  EXPECT_TRUE(LoadPath(dir).ok());
}

TEST(CheckpointTest, BadFoldersAndPathsAreNamed) {
  // A truncated weights file.
  std::string dir = TempDir("truncated");
  fs::copy_file(testing::SourcePath(std::string(kQwen2) + "/config.json"), dir + "/config.json");
  std::string bytes =
      testing::ReadFile(testing::SourcePath(std::string(kQwen2) + "/model.safetensors"));
  std::ofstream(dir + "/model.safetensors", std::ios::binary)
      << bytes.substr(0, bytes.size() - 100);
  absl::StatusOr<Decoder> model = LoadPath(dir);
  EXPECT_THAT(
      std::string(model.status().message()),
      AllOf(HasSubstr(dir + "/model.safetensors: tensor '"), HasSubstr("run past the end of the")));

  // A config.json that does not parse or lacks fields.
  dir = TempDir("bad_config");
  std::ofstream(dir + "/config.json") << R"({"model_type": "qwen2", "hidden_size": 32})";
  model = LoadPath(dir);
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr(dir + "/config.json: field 'vocab_size' is missing"));

  // No config.json, no weights, nothing there, not a model.
  dir = TempDir("no_config");
  model = LoadPath(dir);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("no config.json in model folder"));
  fs::copy_file(testing::SourcePath(std::string(kQwen2) + "/config.json"), dir + "/config.json");
  model = LoadPath(dir);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("no model.safetensors or"));
  model = LoadPath("/nonexistent/model");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  model = LoadPath(testing::SourcePath(std::string(kQwen2) + "/config.json"));
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr("is neither a Hugging Face model folder nor a llama2.c .bin checkpoint"));
  model = LoadPath("");
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("model.path is empty"));

  // Devices and dtypes that cannot be used here.
  ModelOptions options;
  options.path = testing::SourcePath(kQwen2);
  options.dtype = Precision::kFloat16;
  EXPECT_THAT(std::string(LoadModel(options).status().message()),
              HasSubstr("float16 is not supported on the CPU"));
  options.dtype = Precision::kFloat32;
  options.device = "cuda:0";
  absl::StatusOr<Decoder> cuda = LoadModel(options);
  if (!torch::cuda::is_available()) {
    EXPECT_THAT(std::string(cuda.status().message()),
                HasSubstr("device 'cuda:0' requested but this LibTorch has no usable CUDA device"));
  }
}

}  // namespace
}  // namespace ponder::model
