#include "model/checkpoint.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/llama2c.h"
#include "model/safetensors.h"

namespace ponder::model {
namespace {

namespace fs = std::filesystem;

// Where a model's weights come from: a name -> bytes lookup plus a description for messages.
struct WeightSource {
  std::map<std::string, const TensorData*> tensors;
  std::string where;  // the folder or file
  // Keeps the memory maps alive.
  std::shared_ptr<SafetensorsCheckpoint> safetensors;
  std::shared_ptr<Llama2cCheckpoint> llama2c;
};

std::optional<c10::ScalarType> AtenType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
    default:
      return std::nullopt;
  }
}

std::optional<DType> FileType(c10::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return DType::kF32;
    case at::kHalf:
      return DType::kF16;
    case at::kBFloat16:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

std::string FileOf(const TensorData& t) { return t.file.empty() ? "checkpoint" : t.file; }

// Tensors a checkpoint may carry that the decoder does not use.
bool Ignorable(const std::string& name, const ModelConfig& config, bool value_head) {
  if (absl::EndsWith(name, "rotary_emb.inv_freq")) return true;  // older LLaMA exports
  if (name == "lm_head.weight" && config.tie_word_embeddings) return true;
  if (absl::StartsWith(name, "value_head.") && !value_head) return true;
  return false;
}

absl::StatusOr<WeightSource> OpenWeights(const std::string& path, ModelConfig& config) {
  WeightSource source;
  source.where = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string config_path = (fs::path(path) / "config.json").string();
    if (!fs::exists(config_path, ec)) {
      return absl::NotFoundError(absl::StrCat("no config.json in model folder '", path, "'"));
    }
    PONDER_ASSIGN_OR_RETURN(config, ReadHfConfig(config_path));
    PONDER_ASSIGN_OR_RETURN(SafetensorsCheckpoint ckpt, SafetensorsCheckpoint::Open(path));
    source.safetensors = std::make_shared<SafetensorsCheckpoint>(std::move(ckpt));
    for (const std::string& name : source.safetensors->Names()) {
      source.tensors[name] = source.safetensors->Find(name);
    }
    return source;
  }
  if (IsLlama2cPath(path)) {
    PONDER_ASSIGN_OR_RETURN(Llama2cCheckpoint ckpt, ReadLlama2cCheckpoint(path));
    source.llama2c = std::make_shared<Llama2cCheckpoint>(std::move(ckpt));
    config = source.llama2c->config;
    for (const TensorData& t : source.llama2c->tensors) source.tensors[t.name] = &t;
    return source;
  }
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat("no model at '", path, "'"));
  return absl::InvalidArgumentError(absl::StrCat(
      "'", path, "' is neither a Hugging Face model folder nor a llama2.c .bin checkpoint"));
}

}  // namespace

absl::StatusOr<c10::ScalarType> ToScalarType(Precision precision) {
  switch (precision) {
    case Precision::kFloat32:
      return at::kFloat;
    case Precision::kBFloat16:
      return at::kBFloat16;
    case Precision::kFloat16:
      return at::kHalf;
  }
  return absl::InvalidArgumentError("unknown precision");
}

absl::StatusOr<c10::Device> ToDevice(const std::string& device) {
  PONDER_RETURN_IF_ERROR(ValidateDeviceName(device));
  c10::Device d(device);
  if (d.is_cuda()) {
    if (!torch::cuda::is_available()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "device '", device, "' requested but this LibTorch has no usable CUDA device"));
    }
    if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count())) {
      return absl::InvalidArgumentError(absl::StrCat("device '", device, "' requested but only ",
                                                     torch::cuda::device_count(),
                                                     " CUDA devices exist"));
    }
  }
  return d;
}

absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return ReadHfConfig((fs::path(path) / "config.json").string());
  if (IsLlama2cPath(path)) {
    PONDER_ASSIGN_OR_RETURN(Llama2cCheckpoint ckpt, ReadLlama2cCheckpoint(path));
    return ckpt.config;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", path, "' is neither a Hugging Face model folder nor a llama2.c .bin checkpoint"));
}

absl::StatusOr<Decoder> LoadModel(const ModelOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("model.path is empty");
  PONDER_RETURN_IF_ERROR(options.Validate());
  PONDER_ASSIGN_OR_RETURN(c10::ScalarType dtype, ToScalarType(options.dtype));
  PONDER_ASSIGN_OR_RETURN(c10::Device device, ToDevice(options.device));
  ModelConfig config;
  PONDER_ASSIGN_OR_RETURN(WeightSource source, OpenWeights(options.path, config));

  DecoderOptions decoder_options;
  decoder_options.value_head = options.value_head;
  decoder_options.initialize = false;
  try {
    Decoder model(config, decoder_options);
    auto params = model->named_parameters();
    // Check everything before touching any weight.
    for (const auto& [name, tensor] : source.tensors) {
      if (!params.contains(name) && !Ignorable(name, config, options.value_head)) {
        return absl::InvalidArgumentError(absl::StrCat(
            FileOf(*tensor), ": unexpected tensor '", name, "' ", ShapeString(tensor->shape),
            ": the architecture in the config (", config.num_layers, " layers, model_type ",
            config.model_type, ", tie_word_embeddings ",
            config.tie_word_embeddings ? "true" : "false", ") has no such weight"));
      }
    }
    bool fresh_value_head = false;
    for (const auto& p : params) {
      auto it = source.tensors.find(p.key());
      const std::vector<int64_t> expected(p.value().sizes().begin(), p.value().sizes().end());
      if (it == source.tensors.end()) {
        if (absl::StartsWith(p.key(), "value_head.")) {
          fresh_value_head = true;
          continue;
        }
        return absl::InvalidArgumentError(absl::StrCat(source.where, ": missing tensor '", p.key(),
                                                       "' (expected ", ShapeString(expected), ")"));
      }
      const TensorData& t = *it->second;
      if (!AtenType(t.dtype)) {
        return absl::InvalidArgumentError(
            absl::StrCat(FileOf(t), ": tensor '", t.name, "' has unsupported dtype ",
                         DTypeName(t.dtype), " (weights must be F32, F16 or BF16)"));
      }
      if (t.shape != expected) {
        return absl::InvalidArgumentError(absl::StrCat(FileOf(t), ": tensor '", t.name,
                                                       "' has shape ", ShapeString(t.shape),
                                                       ", expected ", ShapeString(expected)));
      }
    }
    model->to(device, dtype);
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      auto it = source.tensors.find(p.key());
      if (it == source.tensors.end()) {
        // A value head the checkpoint lacks: initialised as DecoderImpl does.
        if (absl::EndsWith(p.key(), ".bias")) {
          p.value().zero_();
        } else {
          p.value().normal_(0.0, 0.02);
        }
        continue;
      }
      const TensorData& t = *it->second;
      const auto type = at::TensorOptions().dtype(*AtenType(t.dtype));
      at::Tensor blob;
      if (reinterpret_cast<uintptr_t>(t.data) % DTypeSize(t.dtype) == 0) {
        blob = at::from_blob(const_cast<void*>(t.data), t.shape, type);
      } else {  // safetensors does not promise aligned data: copy the bytes first
        blob = at::empty(t.shape, type);
        std::memcpy(blob.data_ptr(), t.data, t.nbytes);
      }
      p.value().copy_(blob);
    }
    if (fresh_value_head) {
      spdlog::info("model {}: no value_head in the checkpoint; initialised a new one",
                   options.path);
    }
    return model;
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("loading '", options.path, "': ", e.what_without_backtrace()));
  }
}

absl::Status SaveHfFolder(const Decoder& model, const std::string& dir,
                          const SaveOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("cannot create '", dir, "': ", ec.message()));
  // The parameters as they are (float32 master weights stay float32, so that a resumed run
  // continues from exactly the same weights).
  c10::ScalarType dtype = model->param_dtype();
  if (options.dtype) {
    PONDER_ASSIGN_OR_RETURN(dtype, ToScalarType(*options.dtype));
  }
  std::optional<DType> file_type = FileType(dtype);
  if (!file_type) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot save weights of type ", c10::toString(dtype)));
  }
  std::vector<at::Tensor> keep;
  std::vector<TensorData> tensors;
  try {
    torch::NoGradGuard no_grad;
    for (const auto& p : model->named_parameters()) {
      at::Tensor t = p.value().detach().to(at::kCPU, dtype).contiguous();
      TensorData d;
      d.name = p.key();
      d.dtype = *file_type;
      d.shape.assign(t.sizes().begin(), t.sizes().end());
      d.data = t.data_ptr();
      d.nbytes = t.nbytes();
      keep.push_back(t);
      tensors.push_back(std::move(d));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("saving '", dir, "': ", e.what_without_backtrace()));
  }
  PONDER_RETURN_IF_ERROR(WriteSafetensorsFolder(dir, tensors, options.max_shard_bytes));
  ModelConfig config = model->config();
  config.torch_dtype = dtype == at::kFloat  ? "float32"
                       : dtype == at::kHalf ? "float16"
                                            : "bfloat16";
  PONDER_RETURN_IF_ERROR(
      file::WriteFileAtomically((fs::path(dir) / "config.json").string(), ToHfConfigJson(config)));
  if (!options.tokenizer_dir.empty()) {
    static const char* kTokenizerFiles[] = {"tokenizer.json",    "tokenizer_config.json",
                                            "tokenizer.model",   "special_tokens_map.json",
                                            "vocab.json",        "merges.txt",
                                            "added_tokens.json", "generation_config.json",
                                            "tokenizer.bin"};
    for (const char* name : kTokenizerFiles) {
      const fs::path from = fs::path(options.tokenizer_dir) / name;
      if (!fs::exists(from, ec)) continue;
      const fs::path to = fs::path(dir) / name;
      if (fs::exists(to, ec) && fs::equivalent(from, to, ec)) continue;
      fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        return absl::DataLossError(absl::StrCat("cannot copy '", from.string(), "' to '",
                                                to.string(), "': ", ec.message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ponder::model
