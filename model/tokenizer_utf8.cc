#include "model/tokenizer_utf8.h"

#include <cstdint>

namespace ponder::model::utf8 {
namespace {

// How a lead byte starts a sequence: its total length and the allowed range of the second
// byte (Unicode Table 3-7, "Well-Formed UTF-8 Byte Sequences"). Length 0: never a lead byte.
struct Lead {
  int length;
  uint8_t lo, hi;
};

Lead LeadOf(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Number of bytes from the start of `s` that form a valid prefix of a sequence (the maximal
// subpart), and whether they complete it.
size_t ValidPrefix(std::string_view s, bool* complete, char32_t* cp) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  Lead lead = LeadOf(p[0]);
  *complete = false;
  if (lead.length == 0) return 0;
  if (lead.length == 1) {
    *complete = true;
    *cp = p[0];
    return 1;
  }
  char32_t value = p[0] & (0xFF >> (lead.length + 1));
  size_t n = 1;
  for (; n < static_cast<size_t>(lead.length) && n < s.size(); ++n) {
    uint8_t lo = n == 1 ? lead.lo : 0x80, hi = n == 1 ? lead.hi : 0xBF;
    if (p[n] < lo || p[n] > hi) return n;
    value = (value << 6) | (p[n] & 0x3F);
  }
  if (n == static_cast<size_t>(lead.length)) {
    *complete = true;
    *cp = value;
  }
  return n;
}

}  // namespace

size_t DecodeOne(std::string_view s, char32_t* cp) {
  bool complete;
  size_t n = ValidPrefix(s, &complete, cp);
  return complete ? n : 0;
}

size_t FindInvalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    size_t n = DecodeOne(s.substr(i), &cp);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

void Append(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t AppendRepaired(std::string_view in, bool final, std::string* out) {
  size_t i = 0, run_start = 0;  // [run_start, i) is valid and not yet appended
  while (i < in.size()) {
    if (static_cast<uint8_t>(in[i]) < 0x80) {
      ++i;
      continue;
    }
    bool complete;
    char32_t cp;
    size_t n = ValidPrefix(in.substr(i), &complete, &cp);
    if (complete) {
      i += n;
      continue;
    }
    out->append(in.data() + run_start, i - run_start);
    if (i + n == in.size() && n > 0 && !final) return i;  // cut off: may still complete
    Append(0xFFFD, out);
    i += n == 0 ? 1 : n;
    run_start = i;
  }
  out->append(in.data() + run_start, i - run_start);
  return in.size();
}

}  // namespace ponder::model::utf8
