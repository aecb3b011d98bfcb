// Reads sentencepiece `.model` files with our own schema (model/proto/sentencepiece_model.proto)
// instead of linking libsentencepiece, whose bundled protobuf clashes with the one gRPC and
// LibTorch load.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/proto/sentencepiece_model.pb.h"
#include "model/tokenizer_sentencepiece.h"

namespace ponder::model {
namespace {

const char* ModelTypeName(int type) {
  switch (type) {
    case 1:
      return "UNIGRAM";
    case 2:
      return "BPE";
    case 3:
      return "WORD";
    case 4:
      return "CHAR";
    default:
      return "unknown";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceModel(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(const std::string data, file::ReadFile(path, "tokenizer file"));
  spm::ModelProto proto;
  if (data.empty() || !proto.ParseFromString(data)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a sentencepiece model (", data.size(),
                     " bytes that do not parse as a ModelProto protobuf message)"));
  }
  if (proto.pieces_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a sentencepiece model (it has no pieces)"));
  }
  const spm::TrainerSpec& trainer = proto.trainer_spec();
  if (trainer.model_type() != 2) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": sentencepiece model type ", ModelTypeName(trainer.model_type()), " (",
                     trainer.model_type(), ") is not supported; only BPE models are"));
  }
  if (trainer.treat_whitespace_as_suffix()) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": treat_whitespace_as_suffix models are not supported"));
  }
  const spm::NormalizerSpec& norm = proto.normalizer_spec();
  if (!norm.precompiled_charsmap().empty()) {
    return absl::UnimplementedError(absl::StrCat(
        path, ": the normalizer '", norm.name(),
        "' uses a precompiled character map, which is not supported (only 'identity')"));
  }
  if (!norm.escape_whitespaces()) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": models without escape_whitespaces are not supported"));
  }

  std::vector<SentencePiece> pieces;
  pieces.reserve(proto.pieces_size());
  for (const spm::ModelProto::SentencePiece& p : proto.pieces()) {
    SentencePiece piece;
    piece.text = p.piece();
    piece.score = p.score();
    piece.type = static_cast<PieceType>(p.type());
    pieces.push_back(std::move(piece));
  }
  auto optional_id = [](int32_t id) -> std::optional<int32_t> {
    if (id < 0) return std::nullopt;
    return id;
  };
  SentencePieceSpec spec;
  spec.source = path;
  spec.format = "sentencepiece .model";
  spec.add_dummy_prefix = norm.add_dummy_prefix();
  spec.remove_extra_whitespaces = norm.remove_extra_whitespaces();
  spec.byte_fallback = trainer.byte_fallback();
  spec.unk_id = optional_id(trainer.unk_id());
  spec.bos_id = optional_id(trainer.bos_id());
  spec.eos_id = optional_id(trainer.eos_id());
  spec.pad_id = optional_id(trainer.pad_id());
  spec.unk_surface = trainer.unk_surface();
  PONDER_ASSIGN_OR_RETURN(auto tok, SentencePieceTokenizer::Create(std::move(pieces), spec));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace ponder::model
