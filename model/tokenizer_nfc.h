// Unicode Normalization Form C (canonical decomposition, then canonical composition), as the
// `NFC` normalizer of Qwen2/Qwen3's tokenizer.json requires. Tables are generated from Python's
// unicodedata by tokenizer_nfc_tables.py.
#pragma once

#include <string>
#include <string_view>

namespace ponder::model::nfc {

// Whether `text` (valid UTF-8) may change under NFC. False guarantees NFC(text) == text; most
// text (anything below U+0300, most CJK) answers false without normalizing.
bool MayChange(std::string_view text);

// Appends NFC(text) to `*out`. `text` must be valid UTF-8.
void Normalize(std::string_view text, std::string* out);

}  // namespace ponder::model::nfc
