#include "model/tokenizer_nfc.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/tokenizer_utf8.h"

namespace ponder::model::nfc {
namespace {

struct CombiningClass {
  char32_t cp;
  uint8_t ccc;
};
struct Decomposition {
  char32_t cp;
  uint16_t offset, length;
};
struct Composition {
  char32_t first, second, composite;
};
struct CodeRange {
  char32_t lo, hi;
};

#include "model/tokenizer_nfc_tables.inc"

// Hangul syllables compose and decompose by formula (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

uint8_t Ccc(char32_t cp) {
  if (cp < 0x300) return 0;
  auto it = std::lower_bound(std::begin(kCombiningClasses), std::end(kCombiningClasses), cp,
                             [](const CombiningClass& c, char32_t v) { return c.cp < v; });
  return it != std::end(kCombiningClasses) && it->cp == cp ? it->ccc : 0;
}

bool QuickCheckYes(char32_t cp) {
  if (cp < 0x300) return true;
  auto it = std::upper_bound(std::begin(kNotQuickCheckYes), std::end(kNotQuickCheckYes), cp,
                             [](char32_t v, const CodeRange& r) { return v < r.lo; });
  if (it == std::begin(kNotQuickCheckYes)) return true;
  --it;
  return cp > it->hi;
}

void Decompose(char32_t cp, std::vector<char32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    char32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  auto it = std::lower_bound(std::begin(kDecompositions), std::end(kDecompositions), cp,
                             [](const Decomposition& d, char32_t v) { return d.cp < v; });
  if (it != std::end(kDecompositions) && it->cp == cp) {
    out->insert(out->end(), kDecompositionData + it->offset,
                kDecompositionData + it->offset + it->length);
  } else {
    out->push_back(cp);
  }
}

// The primary composite of (first, second), or 0 when there is none.
char32_t Compose(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
      second < kVBase + kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
      second > kTBase && second < kTBase + kTCount) {
    return first + (second - kTBase);
  }
  auto it = std::lower_bound(std::begin(kCompositions), std::end(kCompositions), first,
                             [](const Composition& c, char32_t v) { return c.first < v; });
  for (; it != std::end(kCompositions) && it->first == first; ++it) {
    if (it->second == second) return it->composite;
  }
  return 0;
}

}  // namespace

bool MayChange(std::string_view text) {
  bool high = false;
  for (char c : text) {
    if (static_cast<uint8_t>(c) >= 0xCC) {  // lead bytes of U+0300 and above
      high = true;
      break;
    }
  }
  if (!high) return false;
  uint8_t last_ccc = 0;
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    size_t n = utf8::DecodeOne(text.substr(i), &cp);
    if (n == 0) return true;
    i += n;
    if (!QuickCheckYes(cp)) return true;
    uint8_t ccc = Ccc(cp);
    if (ccc != 0 && last_ccc > ccc) return true;
    last_ccc = ccc;
  }
  return false;
}

void Normalize(std::string_view text, std::string* out) {
  std::vector<char32_t> chars;
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    size_t n = utf8::DecodeOne(text.substr(i), &cp);
    if (n == 0) {  // not valid UTF-8: keep the text as it is
      out->append(text);
      return;
    }
    Decompose(cp, &chars);
    i += n;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < chars.size();) {
    if (Ccc(chars[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < chars.size() && Ccc(chars[j]) != 0) ++j;
    std::stable_sort(chars.begin() + i, chars.begin() + j,
                     [](char32_t a, char32_t b) { return Ccc(a) < Ccc(b); });
    i = j;
  }
  // Canonical composition (UAX #15): a character joins the last starter unless a character
  // between them has the same or a higher combining class (it is blocked).
  std::vector<char32_t> result;
  result.reserve(chars.size());
  size_t starter = 0;
  bool have_starter = false;
  int last_ccc = 0;
  for (char32_t cp : chars) {
    int ccc = Ccc(cp);
    if (have_starter) {
      bool adjacent = result.size() == starter + 1;
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        char32_t composite = Compose(result[starter], cp);
        if (composite != 0) {
          result[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) {
      starter = result.size();
      have_starter = true;
    }
    last_ccc = ccc;
    result.push_back(cp);
  }
  for (char32_t cp : result) utf8::Append(cp, out);
}

}  // namespace ponder::model::nfc
