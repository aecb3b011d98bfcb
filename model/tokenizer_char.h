// A character tokenizer for the built-in tasks: one token per character of an alphabet, after
// three special tokens <pad> (0), <bos> (1) and <eos> (2). Loaded as `chars:<alphabet>`, e.g.
// `chars:0123456789+-*()=,>:` gives '0' id 3, '1' id 4, ... Text with a character outside the
// alphabet is an error, not an unknown token: built-in tasks never need one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "model/tokenizer_string_map.h"

namespace ponder::model {

class CharTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kPad = 0, kBos = 1, kEos = 2;

  // `alphabet`: distinct UTF-8 characters, at least one.
  static absl::StatusOr<std::unique_ptr<CharTokenizer>> Create(std::string_view alphabet);

  std::string Describe() const override;
  absl::Status EncodeTo(std::string_view text, const EncodeOptions& options,
                        std::vector<int32_t>* ids) const override;
  absl::Status AppendTokenBytes(int32_t id, bool first, std::string* out) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }
  std::optional<int32_t> bos_id() const override { return kBos; }
  std::optional<int32_t> eos_id() const override { return kEos; }
  std::optional<int32_t> pad_id() const override { return kPad; }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::string IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override { return id >= 0 && id < 3; }

 private:
  CharTokenizer() = default;
  std::vector<std::string> tokens_;
  StringMap<int32_t> by_text_;
  int32_t ascii_[128];  // id of each ASCII character, -1 when not in the alphabet
};

}  // namespace ponder::model
