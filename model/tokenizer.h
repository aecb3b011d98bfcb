// Tokenizers: text <-> token ids for the models Ponder loads.
//
// One interface, several implementations, picked from a path by LoadTokenizer:
//   - byte-level BPE from a Hugging Face `tokenizer.json` (GPT-2, Qwen2/2.5/3, LLaMA-3),
//   - sentencepiece BPE `.model` files with byte fallback (LLaMA-2, llama2.c's tok512.model),
//   - llama2.c `tokenizer.bin` files (pieces + scores, same merge-by-score algorithm),
//   - a character vocabulary for the built-in tasks (`chars:0123456789+-*()=,>:`).
//
//   PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer("models/qwen3"));
//   PONDER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok->Encode("Hello", {.add_bos = true}));
//   PONDER_ASSIGN_OR_RETURN(std::string text, tok->Decode(ids));
//
// Tokenizers are immutable after loading and safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ponder::model {

struct EncodeOptions {
  // Put the beginning-of-sequence token first, when the tokenizer has one (Qwen's has none;
  // then nothing is added).
  bool add_bos = false;
  // Put the end-of-sequence token last, when the tokenizer has one.
  bool add_eos = false;
  // Text of special/added tokens (`<|im_start|>`, `<think>`) becomes their ids, as Hugging Face
  // tokenizers do by default. When false such text is encoded as ordinary characters.
  bool parse_special = true;
};

struct DecodeOptions {
  // Leave out special tokens (BOS, EOS, `<|im_end|>` ...).
  bool skip_special = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // A short name of the implementation and its source, e.g. "byte-level BPE (tokenizer.json)".
  virtual std::string Describe() const = 0;

  // Encodes UTF-8 `text`, appending the ids to `*ids` (which is not cleared, so a caller can
  // reuse one buffer). Text that is not valid UTF-8 is an InvalidArgument naming the byte
  // offset; a character tokenizer also rejects characters outside its vocabulary.
  virtual absl::Status EncodeTo(std::string_view text, const EncodeOptions& options,
                                std::vector<int32_t>* ids) const = 0;

  // Appends the bytes that token `id` stands for to `*out`. `first` says whether no ordinary
  // (non-special) token came before it in the text being decoded (sentencepiece drops the
  // dummy-prefix space there). Bytes of
  // one character may be spread over several tokens, so the result may end mid-character.
  // An id outside [0, vocab_size) is an OutOfRange error.
  virtual absl::Status AppendTokenBytes(int32_t id, bool first, std::string* out) const = 0;

  // Number of ids, added tokens included (ids are 0 .. vocab_size()-1).
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual std::optional<int32_t> pad_id() const = 0;

  // The id of a token given by its text as the vocabulary spells it (`<|im_end|>`, `<s>`,
  // `<0x0A>`, `▁the`, `Ġthe`); nullopt when there is none.
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  // The vocabulary's spelling of `id` (the inverse of TokenToId); empty when out of range.
  virtual std::string IdToToken(int32_t id) const = 0;
  // Whether `id` is a special (control) token: BOS/EOS/PAD, `<|im_start|>` ...
  virtual bool IsSpecial(int32_t id) const = 0;

  // Convenience forms.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              const EncodeOptions& options = {}) const;
  // Decodes ids to text. Byte sequences that are not valid UTF-8 (e.g. a character cut off at
  // the end) become U+FFFD, as Hugging Face decoders do with errors="replace".
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options = {}) const;
};

// Decodes a stream of ids one at a time (for printing generated text as it comes) and never
// emits a partial UTF-8 character: bytes of an unfinished character are held back until the
// token that completes it arrives. The concatenation of all Push outputs and Finish equals
// Decode of the whole sequence.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, const DecodeOptions& options = {});

  // Appends to `*out` the text that `id` completes.
  absl::Status Push(int32_t id, std::string* out);
  // Appends what is still held back (an unfinished character becomes U+FFFD) and resets the
  // decoder for a new sequence.
  void Finish(std::string* out);

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  bool first_ = true;
  std::string pending_;
};

// Loads a tokenizer, choosing the implementation from `path`:
//   - a folder: its `tokenizer.json`, else `tokenizer.model`, else `tokenizer.bin`
//     (`tokenizer_config.json` beside it supplies BOS/EOS/PAD names when present), else the
//     alphabet in its `tokenizer_chars.txt`;
//   - `*.json`: byte-level BPE; `*.model`: sentencepiece; `*.bin`: llama2.c;
//   - `chars:<alphabet>`: a character vocabulary (see tokenizer_char.h).
// Errors name the file and what is wrong with it.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

// The file in a model folder that holds a character vocabulary's alphabet (the text after
// `chars:`), so that a folder trained on one carries its tokenizer like any other.
inline constexpr char kCharVocabularyFile[] = "tokenizer_chars.txt";

}  // namespace ponder::model
