#include "model/tokenizer_llama2c.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/tokenizer_sentencepiece.h"

namespace ponder::model {
namespace {

bool IsBytePiece(const std::string& t) {
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4]));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(const std::string data, file::ReadFile(path, "tokenizer file"));

  size_t pos = 0;
  auto read_i32 = [&](int32_t* v) {
    if (data.size() - pos < 4) return false;
    std::memcpy(v, data.data() + pos, 4);
    pos += 4;
    return true;
  };
  int32_t max_len = 0;
  if (!read_i32(&max_len)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a llama2.c tokenizer.bin: ", data.size(), " bytes, too short for the header"));
  }
  if (max_len <= 0 || max_len > (1 << 16)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a llama2.c tokenizer.bin: max_token_length ", max_len,
                     " in the header is not in [1, 65536]"));
  }
  std::vector<SentencePiece> pieces;
  while (pos < data.size()) {
    const size_t id = pieces.size();
    const size_t record = pos;
    float score;
    int32_t len;
    if (data.size() - pos < 8) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": token ", id, " at byte ", record,
                       " is cut off (the file ends inside its header)"));
    }
    std::memcpy(&score, data.data() + pos, 4);
    std::memcpy(&len, data.data() + pos + 4, 4);
    pos += 8;
    if (len <= 0 || len > max_len) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": token ", id, " at byte ", record, " has length ", len,
                       ", outside [1, max_token_length=", max_len, "]"));
    }
    if (data.size() - pos < static_cast<size_t>(len)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": token ", id, " at byte ", record,
                                                     " is cut off (needs ", len, " bytes, ",
                                                     data.size() - pos, " left)"));
    }
    if (!std::isfinite(score)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": token ", id, " at byte ", record, " has a non-finite score"));
    }
    SentencePiece piece;
    piece.score = score;
    for (char c : std::string_view(data.data() + pos, len)) {
      if (c == ' ') {
        piece.text += "\xE2\x96\x81";
      } else {
        piece.text.push_back(c);
      }
    }
    pos += len;
    if (id <= 2) {
      piece.type = id == 0 ? PieceType::kUnknown : PieceType::kControl;
    } else if (IsBytePiece(piece.text)) {
      piece.type = PieceType::kByte;
    }
    pieces.push_back(std::move(piece));
  }
  if (pieces.size() < 3 + 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": only ", pieces.size(), " tokens; a llama2.c tokenizer has <unk>, <s>, </s> and ",
        "256 byte pieces first"));
  }
  // llama2.c's export writes BOS and EOS as "\n<s>\n" and "\n</s>\n".
  const std::pair<int, const char*> expected[] = {{0, "<unk>"}, {1, "<s>"}, {2, "</s>"}};
  for (const auto& [id, text] : expected) {
    if (pieces[id].text == absl::StrCat("\n", text, "\n")) pieces[id].text = text;
    if (pieces[id].text != text) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": token ", id, " is '", pieces[id].text, "', expected '", text, "'"));
    }
  }
  SentencePieceSpec spec;
  spec.source = path;
  spec.format = "llama2.c tokenizer.bin";
  spec.unk_id = 0;
  spec.bos_id = 1;
  spec.eos_id = 2;
  PONDER_ASSIGN_OR_RETURN(auto tok, SentencePieceTokenizer::Create(std::move(pieces), spec));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace ponder::model
