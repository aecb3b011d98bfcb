// A pre-tokenizer regex (PCRE2 with Unicode properties, JIT-compiled) that splits text into the
// pieces a BPE model merges within, as Hugging Face's `Split` pre-tokenizer with behaviour
// `Isolated` does: each match is a piece, and so is any text between matches.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ponder::model {

class PretokenizerRegex {
 public:
  // The GPT-2 pattern that Hugging Face's ByteLevel pre-tokenizer uses when use_regex is true.
  static constexpr const char* kGpt2Pattern =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

  // Compiles `pattern`; a syntax error is an InvalidArgument naming the offset in the pattern.
  static absl::StatusOr<std::unique_ptr<PretokenizerRegex>> Create(const std::string& pattern);
  ~PretokenizerRegex();

  // Appends the pieces of `text` (valid UTF-8) to `*pieces`, in order; they cover all of `text`.
  absl::Status Split(std::string_view text, std::vector<std::string_view>* pieces) const;

  const std::string& pattern() const { return pattern_; }

 private:
  explicit PretokenizerRegex(std::string pattern) : pattern_(std::move(pattern)) {}
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
};

}  // namespace ponder::model
