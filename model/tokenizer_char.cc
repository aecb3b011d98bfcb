#include "model/tokenizer_char.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/tokenizer_utf8.h"

namespace ponder::model {

absl::StatusOr<std::unique_ptr<CharTokenizer>> CharTokenizer::Create(std::string_view alphabet) {
  if (alphabet.empty()) {
    return absl::InvalidArgumentError("the character vocabulary 'chars:' is empty");
  }
  size_t bad = utf8::FindInvalid(alphabet);
  if (bad != alphabet.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the character vocabulary is not valid UTF-8 at byte ", bad));
  }
  auto tok = std::unique_ptr<CharTokenizer>(new CharTokenizer());
  std::fill(std::begin(tok->ascii_), std::end(tok->ascii_), -1);
  tok->tokens_ = {"<pad>", "<bos>", "<eos>"};
  for (int32_t id = 0; id < 3; ++id) tok->by_text_.emplace(tok->tokens_[id], id);
  for (size_t pos = 0; pos < alphabet.size();) {
    size_t next = utf8::Next(alphabet, pos);
    std::string c(alphabet.substr(pos, next - pos));
    int32_t id = tok->vocab_size();
    if (!tok->by_text_.emplace(c, id).second) {
      return absl::InvalidArgumentError(absl::StrCat("the character vocabulary repeats '", c, "'"));
    }
    if (c.size() == 1) tok->ascii_[static_cast<uint8_t>(c[0])] = id;
    tok->tokens_.push_back(std::move(c));
    pos = next;
  }
  return tok;
}

std::string CharTokenizer::Describe() const {
  std::string alphabet;
  for (size_t i = 3; i < tokens_.size(); ++i) alphabet += tokens_[i];
  return absl::StrCat("character vocabulary (chars:", alphabet, ", ", tokens_.size(), " tokens)");
}

absl::Status CharTokenizer::EncodeTo(std::string_view text, const EncodeOptions& options,
                                     std::vector<int32_t>* ids) const {
  size_t bad = utf8::FindInvalid(text);
  if (bad != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("text to encode is not valid UTF-8 at byte ", bad));
  }
  if (options.add_bos) ids->push_back(kBos);
  for (size_t pos = 0; pos < text.size();) {
    auto c = static_cast<uint8_t>(text[pos]);
    if (c < 128 && ascii_[c] >= 0) {
      ids->push_back(ascii_[c]);
      ++pos;
      continue;
    }
    if (options.parse_special && c == '<') {
      bool found = false;
      for (int32_t id = 0; id < 3 && !found; ++id) {
        if (text.compare(pos, tokens_[id].size(), tokens_[id]) == 0) {
          ids->push_back(id);
          pos += tokens_[id].size();
          found = true;
        }
      }
      if (found) continue;
    }
    size_t next = utf8::Next(text, pos);
    auto it = by_text_.find(text.substr(pos, next - pos));
    if (it == by_text_.end() || it->second < 3) {
      char32_t cp = 0;
      utf8::DecodeOne(text.substr(pos), &cp);
      return absl::InvalidArgumentError(absl::StrFormat(
          "character '%s' (U+%04X) at byte %d is not in the %s", text.substr(pos, next - pos),
          static_cast<uint32_t>(cp), pos, Describe()));
    }
    ids->push_back(it->second);
    pos = next;
  }
  if (options.add_eos) ids->push_back(kEos);
  return absl::OkStatus();
}

absl::Status CharTokenizer::AppendTokenBytes(int32_t id, bool first, std::string* out) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::OutOfRangeError(absl::StrCat("token id ", id, " is outside the vocabulary of ",
                                              vocab_size(), " (", Describe(), ")"));
  }
  out->append(tokens_[id]);
  return absl::OkStatus();
}

std::optional<int32_t> CharTokenizer::TokenToId(std::string_view token) const {
  auto it = by_text_.find(token);
  if (it == by_text_.end()) return std::nullopt;
  return it->second;
}

std::string CharTokenizer::IdToToken(int32_t id) const {
  return id >= 0 && id < vocab_size() ? tokens_[id] : std::string();
}

}  // namespace ponder::model
