// UTF-8 helpers shared by the tokenizers: validation, code point iteration, and repair of
// byte strings that are not valid UTF-8 (U+FFFD for each maximal invalid subpart, as the
// Unicode standard recommends and Python's errors="replace" does).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ponder::model::utf8 {

// Length of the valid UTF-8 sequence starting at s[0] and its code point in `*cp`, or 0 when
// the bytes there are not a complete, valid sequence. `s` must not be empty.
size_t DecodeOne(std::string_view s, char32_t* cp);

// Offset of the first byte that does not start a valid sequence, or s.size() when all is valid.
size_t FindInvalid(std::string_view s);

void Append(char32_t cp, std::string* out);

// Appends `in` to `*out` with each maximal invalid subpart replaced by U+FFFD. When `final` is
// false, a sequence cut off by the end of `in` that could still become valid is not appended;
// the return value is the number of bytes of `in` consumed (in.size() when `final`).
size_t AppendRepaired(std::string_view in, bool final, std::string* out);

// Byte offset in `s` where the character after the one starting at `pos` starts (pos + 1 for
// an invalid byte).
inline size_t Next(std::string_view s, size_t pos) {
  char32_t cp;
  size_t n = DecodeOne(s.substr(pos), &cp);
  return pos + (n == 0 ? 1 : n);
}

}  // namespace ponder::model::utf8
