#include "model/tokenizer.h"

#include <filesystem>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/tokenizer_bpe.h"
#include "model/tokenizer_char.h"
#include "model/tokenizer_llama2c.h"
#include "model/tokenizer_sentencepiece.h"
#include "model/tokenizer_utf8.h"

namespace ponder::model {

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view text,
                                                       const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  absl::Status status = EncodeTo(text, options, &ids);
  if (!status.ok()) return status;
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int32_t> ids,
                                              const DecodeOptions& options) const {
  std::string raw;
  bool first = true;
  for (int32_t id : ids) {
    if (options.skip_special && IsSpecial(id)) continue;
    absl::Status status = AppendTokenBytes(id, first, &raw);
    if (!status.ok()) return status;
    if (!IsSpecial(id)) first = false;
  }
  std::string text;
  text.reserve(raw.size());
  utf8::AppendRepaired(raw, /*final=*/true, &text);
  return text;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, const DecodeOptions& options)
    : tokenizer_(tokenizer), options_(options) {}

absl::Status StreamDecoder::Push(int32_t id, std::string* out) {
  if (options_.skip_special && tokenizer_.IsSpecial(id)) return absl::OkStatus();
  absl::Status status = tokenizer_.AppendTokenBytes(id, first_, &pending_);
  if (!status.ok()) return status;
  if (!tokenizer_.IsSpecial(id)) first_ = false;
  size_t used = utf8::AppendRepaired(pending_, /*final=*/false, out);
  pending_.erase(0, used);
  return absl::OkStatus();
}

void StreamDecoder::Finish(std::string* out) {
  utf8::AppendRepaired(pending_, /*final=*/true, out);
  pending_.clear();
  first_ = true;
}

namespace {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadFile(const std::string& path) {
  if (absl::EndsWith(path, ".json")) {
    std::string config =
        (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
    absl::StatusOr<std::unique_ptr<BpeTokenizer>> tok = BpeTokenizer::Load(path, config);
    if (!tok.ok()) return tok.status();
    return std::unique_ptr<Tokenizer>(std::move(*tok));
  }
  if (absl::EndsWith(path, ".model")) return LoadSentencePieceModel(path);
  if (absl::EndsWith(path, ".bin")) return LoadLlama2cTokenizer(path);
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot tell the tokenizer format of '", path,
      "': expected a folder, a tokenizer.json, a sentencepiece .model, a llama2.c .bin or "
      "chars:<alphabet>"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  if (absl::StartsWith(path, "chars:")) {
    absl::StatusOr<std::unique_ptr<CharTokenizer>> tok =
        CharTokenizer::Create(std::string_view(path).substr(6));
    if (!tok.ok()) return tok.status();
    return std::unique_ptr<Tokenizer>(std::move(*tok));
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A sentencepiece model is the source of truth where a folder has one (LLaMA-2 folders
    // also carry a converted tokenizer.json).
    for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer.bin"}) {
      fs::path file = fs::path(path) / name;
      if (fs::exists(file, ec)) return LoadFile(file.string());
    }
    // A model trained on a character vocabulary (the built-in tasks) keeps its alphabet here.
    const fs::path chars = fs::path(path) / kCharVocabularyFile;
    if (fs::exists(chars, ec)) {
      PONDER_ASSIGN_OR_RETURN(const std::string alphabet, file::ReadFile(chars.string()));
      absl::StatusOr<std::unique_ptr<CharTokenizer>> tok = CharTokenizer::Create(alphabet);
      if (!tok.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(chars.string(), ": ", tok.status().message()));
      }
      return std::unique_ptr<Tokenizer>(std::move(*tok));
    }
    return absl::NotFoundError(absl::StrCat("no tokenizer in folder '", path,
                                            "' (looked for tokenizer.model, tokenizer.json, "
                                            "tokenizer.bin, ",
                                            kCharVocabularyFile, ")"));
  }
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("tokenizer '", path, "' does not exist"));
  }
  return LoadFile(path);
}

}  // namespace ponder::model
