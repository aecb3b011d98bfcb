// llama2.c `tokenizer.bin`: int32 max_token_length, then per token a float32 score, an int32
// byte length and the bytes (spaces spelled ' ' instead of `▁`). Ids 0/1/2 are <unk>, <s>,
// </s>; byte pieces are spelled <0xHH>. Encoded like sentencepiece BPE (merge by score, dummy
// prefix, byte fallback), which is what llama2.c's own encoder does.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace ponder::model {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path);

}  // namespace ponder::model
