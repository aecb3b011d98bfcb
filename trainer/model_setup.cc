#include "trainer/model_setup.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"

namespace ponder::trainer {
namespace fs = std::filesystem;

absl::StatusOr<std::string> TokenizerSource(const model::ModelOptions& options) {
  if (!options.tokenizer.empty()) return options.tokenizer;
  if (options.path.empty()) {
    return absl::InvalidArgumentError(
        "model.tokenizer is required when the model is built from model.init (no model.path); "
        "e.g. \"chars:0123456789+-*()=,>:\\n\" for the built-in tasks");
  }
  if (fs::is_directory(options.path)) return options.path;
  return fs::path(options.path).parent_path().string();
}

absl::StatusOr<JobTokenizer> LoadJobTokenizer(const model::ModelOptions& options) {
  PONDER_ASSIGN_OR_RETURN(std::string source, TokenizerSource(options));
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<model::Tokenizer> loaded, model::LoadTokenizer(source));
  std::shared_ptr<const model::Tokenizer> tokenizer = std::move(loaded);
  PONDER_ASSIGN_OR_RETURN(PromptEncoder encoder,
                          PromptEncoder::Create(tokenizer, options.chat_template, source));
  return JobTokenizer{std::move(source), std::move(tokenizer), std::move(encoder)};
}

absl::StatusOr<model::Decoder> LoadPolicyModel(const model::ModelOptions& options,
                                               int64_t vocab_size) {
  if (!options.path.empty()) {
    if (!fs::exists(options.path)) {
      return absl::NotFoundError(absl::StrCat("model.path '", options.path, "' does not exist"));
    }
    return model::LoadModel(options);
  }
  PONDER_ASSIGN_OR_RETURN(model::ModelConfig config, options.init.ToModelConfig(vocab_size));
  PONDER_ASSIGN_OR_RETURN(c10::ScalarType dtype, model::ToScalarType(options.dtype));
  PONDER_ASSIGN_OR_RETURN(c10::Device device, model::ToDevice(options.device));
  model::Decoder decoder(config, model::DecoderOptions{.value_head = options.value_head});
  decoder->to(device, dtype);
  return decoder;
}

absl::StatusOr<model::Decoder> LoadTrainedModel(const model::ModelOptions& options,
                                                int64_t vocab_size) {
  if (options.dtype == model::Precision::kFloat32 ||
      options.master_dtype == model::MasterPrecision::kSame) {
    return LoadPolicyModel(options, vocab_size);
  }
  model::ModelOptions masters = options;
  masters.dtype = model::Precision::kFloat32;
  PONDER_ASSIGN_OR_RETURN(model::Decoder decoder, LoadPolicyModel(masters, vocab_size));
  PONDER_ASSIGN_OR_RETURN(c10::ScalarType compute, model::ToScalarType(options.dtype));
  decoder->set_compute_dtype(compute);
  return decoder;
}

absl::Status SaveModelFolder(const model::Decoder& model, const std::string& dir,
                             const std::string& tokenizer_source) {
  model::SaveOptions save;
  std::error_code ec;
  if (fs::is_directory(tokenizer_source, ec)) save.tokenizer_dir = tokenizer_source;
  PONDER_RETURN_IF_ERROR(model::SaveHfFolder(model, dir, save));
  if (absl::StartsWith(tokenizer_source, "chars:")) {
    PONDER_RETURN_IF_ERROR(file::WriteFileAtomically(
        (fs::path(dir) / model::kCharVocabularyFile).string(), tokenizer_source.substr(6)));
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
