// Sentencepiece-style BPE: merge adjacent symbols by the score of the piece they form, with
// the dummy-prefix space, `▁` for spaces, user-defined pieces, unused-piece resegmentation and
// byte fallback. Used for sentencepiece `.model` files (LLaMA-2, tok512.model) and for
// llama2.c `tokenizer.bin` files, which carry the same pieces and scores.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "model/tokenizer_cache.h"
#include "model/tokenizer_string_map.h"

namespace ponder::model {

// The sentencepiece piece types (values as in sentencepiece_model.proto).
enum class PieceType : int {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

struct SentencePiece {
  std::string text;  // spaces spelled `▁` (U+2581); byte pieces spelled `<0xAB>`
  float score = 0;
  PieceType type = PieceType::kNormal;
};

struct SentencePieceSpec {
  std::string source;  // the file, for messages and Describe()
  std::string format;  // "sentencepiece .model" or "llama2.c tokenizer.bin"
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = false;
  bool byte_fallback = true;
  std::optional<int32_t> unk_id, bos_id, eos_id, pad_id;
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ ", what <unk> decodes to
};

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Checks the pieces (unique texts, a byte piece for every byte when byte_fallback, ids of the
  // special tokens in range) and builds the lookup tables; errors name spec.source.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(
      std::vector<SentencePiece> pieces, SentencePieceSpec spec);

  std::string Describe() const override;
  absl::Status EncodeTo(std::string_view text, const EncodeOptions& options,
                        std::vector<int32_t>* ids) const override;
  absl::Status AppendTokenBytes(int32_t id, bool first, std::string* out) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::optional<int32_t> bos_id() const override { return spec_.bos_id; }
  std::optional<int32_t> eos_id() const override { return spec_.eos_id; }
  std::optional<int32_t> pad_id() const override { return spec_.pad_id; }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::string IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;

 private:
  SentencePieceTokenizer(std::vector<SentencePiece> pieces, SentencePieceSpec spec);
  // Encodes one whitespace-escaped word (or the whole text when words cannot be split safely).
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids) const;
  void EmitPiece(std::string_view piece, std::vector<int32_t>* ids) const;
  size_t MatchUserDefined(std::string_view rest) const;

  std::vector<SentencePiece> pieces_;
  SentencePieceSpec spec_;
  // Pieces that merges may produce (normal, user-defined, unused) and all pieces by text.
  StringMap<int32_t> mergeable_;
  StringMap<int32_t> by_text_;
  std::vector<std::string> user_defined_;  // longest first
  // Control and unknown pieces (`<s>`, `</s>`, `<unk>`), found in text when parse_special.
  std::vector<std::pair<std::string, int32_t>> special_pieces_;  // longest first
  bool special_first_[256] = {};                                 // first bytes of special_pieces_
  int32_t byte_ids_[256];
  // Whether no piece holds `▁` right after another character, so that text can be encoded one
  // word (`▁*` + non-`▁` characters) at a time with the same result.
  bool split_words_ = true;
  TokenCache cache_;
};

// Loads a sentencepiece `.model` file (a protobuf ModelProto) of BPE type.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceModel(const std::string& path);

}  // namespace ponder::model
