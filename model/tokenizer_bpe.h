// Byte-level BPE from a Hugging Face `tokenizer.json` (GPT-2, Qwen2/2.5/3, LLaMA-3):
// added/special tokens are split out first (longest match), the rest is NFC-normalized when
// the file says so, split into pre-tokens by the file's regexes (PCRE2), mapped to bytes, and
// each pre-token is merged by merge rank (lowest first, leftmost on ties), or kept whole when
// `ignore_merges` is set and the vocabulary has it. Merged pre-tokens are cached.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "model/tokenizer_cache.h"
#include "model/tokenizer_regex.h"
#include "model/tokenizer_string_map.h"

namespace ponder::model {

class BpeTokenizer : public Tokenizer {
 public:
  // Loads `json_path`; `config_path` (tokenizer_config.json, may be empty or missing) names
  // the BOS/EOS/PAD tokens. Errors name the file and the field that is wrong.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Load(const std::string& json_path,
                                                            const std::string& config_path);

  std::string Describe() const override;
  absl::Status EncodeTo(std::string_view text, const EncodeOptions& options,
                        std::vector<int32_t>* ids) const override;
  absl::Status AppendTokenBytes(int32_t id, bool first, std::string* out) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(token_bytes_.size()); }
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  std::optional<int32_t> eos_id() const override { return eos_id_; }
  std::optional<int32_t> pad_id() const override { return pad_id_; }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::string IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;

 private:
  friend class BpeLoader;
  BpeTokenizer() = default;

  struct Merge {
    int32_t rank;
    int32_t id;  // the merged token
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  absl::Status EncodeSegment(std::string_view text, std::vector<int32_t>* ids) const;
  // Splits by the pre-tokenizer regexes from `level` on and encodes each piece.
  absl::Status EncodePieces(std::string_view text, size_t level, std::vector<int32_t>* ids) const;
  void EncodePiece(std::string_view piece, std::vector<int32_t>* ids) const;
  void MergePiece(std::string_view piece, std::vector<int32_t>* ids) const;

  std::string source_;
  std::vector<std::string> token_bytes_;  // raw bytes of each id ("" and absent for gaps)
  std::vector<std::string> token_text_;   // the vocabulary's spelling of each id
  std::vector<bool> present_;             // ids that have a token (ids may have gaps)
  std::vector<bool> special_;
  StringMap<int32_t> by_text_;   // spelling -> id
  StringMap<int32_t> by_bytes_;  // raw bytes -> id (model vocabulary only)
  absl::flat_hash_map<uint64_t, Merge> merges_;
  int32_t byte_ids_[256];
  bool ignore_merges_ = false;
  bool nfc_ = false;
  bool add_prefix_space_ = false;
  std::vector<std::unique_ptr<PretokenizerRegex>> splits_;
  // Added tokens, matched in text longest first, indexed by first byte.
  std::vector<std::vector<std::pair<std::string, int32_t>>> added_by_first_byte_;
  std::optional<int32_t> bos_id_, eos_id_, pad_id_;
  TokenCache cache_;
};

}  // namespace ponder::model
