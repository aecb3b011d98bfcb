#include "model/tokenizer_sentencepiece.h"

#include <algorithm>
#include <cstdio>
#include <queue>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/tokenizer_utf8.h"

namespace ponder::model {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // ▁ U+2581

bool ParseBytePiece(std::string_view text, uint8_t* value) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return false;
  unsigned v = 0;
  for (char c : text.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else
      return false;
  }
  *value = static_cast<uint8_t>(v);
  return true;
}

// Per-thread scratch space, so that encoding does not allocate in steady state.
struct Scratch {
  struct Symbol {
    uint32_t start, len;
    int prev, next;
    bool frozen;
  };
  struct Pair {
    float score;
    int left, right;
    uint32_t size;
  };
  struct PairOrder {
    bool operator()(const Pair& a, const Pair& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  std::vector<Symbol> symbols;
  std::vector<Pair> heap;
  absl::flat_hash_map<std::string_view, std::pair<std::string_view, std::string_view>,
                      StringViewHash, StringViewEq>
      rev_merge;
  std::vector<int32_t> word_ids;
  std::string normalized;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(std::vector<SentencePiece> pieces,
                                               SentencePieceSpec spec)
    : pieces_(std::move(pieces)), spec_(std::move(spec)) {}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Create(
    std::vector<SentencePiece> pieces, SentencePieceSpec spec) {
  const std::string& src = spec.source;
  if (pieces.empty()) return absl::InvalidArgumentError(absl::StrCat(src, ": no pieces"));
  auto tok = std::unique_ptr<SentencePieceTokenizer>(
      new SentencePieceTokenizer(std::move(pieces), std::move(spec)));
  std::fill(std::begin(tok->byte_ids_), std::end(tok->byte_ids_), -1);
  const int32_t n = tok->vocab_size();
  for (int32_t id = 0; id < n; ++id) {
    const SentencePiece& p = tok->pieces_[id];
    if (p.text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(src, ": piece ", id, " is empty"));
    }
    if (utf8::FindInvalid(p.text) != p.text.size()) {
      return absl::InvalidArgumentError(absl::StrCat(src, ": piece ", id, " is not valid UTF-8"));
    }
    auto [it, inserted] = tok->by_text_.try_emplace(p.text, id);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(src, ": piece ", id, " '", p.text, "' repeats piece ", it->second));
    }
    switch (p.type) {
      case PieceType::kNormal:
      case PieceType::kUnused:
        tok->mergeable_.emplace(p.text, id);
        break;
      case PieceType::kUserDefined:
        tok->mergeable_.emplace(p.text, id);
        tok->user_defined_.push_back(p.text);
        break;
      case PieceType::kByte: {
        uint8_t value;
        if (!ParseBytePiece(p.text, &value)) {
          return absl::InvalidArgumentError(absl::StrCat(
              src, ": piece ", id, " '", p.text, "' has type BYTE but is not spelled <0xHH>"));
        }
        tok->byte_ids_[value] = id;
        break;
      }
      case PieceType::kUnknown:
      case PieceType::kControl:
        tok->special_pieces_.emplace_back(p.text, id);
        tok->special_first_[static_cast<uint8_t>(p.text[0])] = true;
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            src, ": piece ", id, " '", p.text, "' has unknown type ", static_cast<int>(p.type)));
    }
    if (p.type == PieceType::kNormal || p.type == PieceType::kUserDefined ||
        p.type == PieceType::kUnused) {
      // `▁` after another character would let a piece span a word boundary.
      for (size_t pos = p.text.find(kSpace, 1); pos != std::string::npos;
           pos = p.text.find(kSpace, pos + 1)) {
        if (pos < kSpace.size() ||
            p.text.compare(pos - kSpace.size(), kSpace.size(), kSpace) != 0) {
          tok->split_words_ = false;
          break;
        }
      }
    }
  }
  std::sort(tok->special_pieces_.begin(), tok->special_pieces_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::sort(tok->user_defined_.begin(), tok->user_defined_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  if (tok->spec_.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      if (tok->byte_ids_[b] < 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: byte fallback is on but there is no byte piece <0x%02X>", src, b));
      }
    }
  }
  const std::pair<const char*, std::optional<int32_t>> specials[] = {{"unk", tok->spec_.unk_id},
                                                                     {"bos", tok->spec_.bos_id},
                                                                     {"eos", tok->spec_.eos_id},
                                                                     {"pad", tok->spec_.pad_id}};
  for (const auto& [name, id] : specials) {
    if (id.has_value() && (*id < 0 || *id >= n)) {
      return absl::InvalidArgumentError(
          absl::StrCat(src, ": ", name, "_id ", *id, " is outside the vocabulary of ", n));
    }
  }
  if (!tok->spec_.byte_fallback && !tok->spec_.unk_id.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(src, ": neither byte fallback nor an unknown piece to encode unseen text"));
  }
  return tok;
}

std::string SentencePieceTokenizer::Describe() const {
  return absl::StrCat(spec_.format, " BPE (", spec_.source, ", ", pieces_.size(), " pieces)");
}

size_t SentencePieceTokenizer::MatchUserDefined(std::string_view rest) const {
  for (const std::string& u : user_defined_) {
    if (rest.size() >= u.size() && rest.compare(0, u.size(), u) == 0) return u.size();
  }
  return 0;
}

void SentencePieceTokenizer::EmitPiece(std::string_view piece, std::vector<int32_t>* ids) const {
  auto it = mergeable_.find(piece);
  if (it != mergeable_.end()) {
    ids->push_back(it->second);
    return;
  }
  if (spec_.byte_fallback) {
    for (char c : piece) ids->push_back(byte_ids_[static_cast<uint8_t>(c)]);
    return;
  }
  // Runs of unknown symbols become one <unk>, as in sentencepiece.
  if (ids->empty() || ids->back() != *spec_.unk_id) ids->push_back(*spec_.unk_id);
}

void SentencePieceTokenizer::EncodeWord(std::string_view word, std::vector<int32_t>* ids) const {
  Scratch& s = ThreadScratch();
  s.symbols.clear();
  s.heap.clear();
  s.rev_merge.clear();
  for (size_t pos = 0; pos < word.size();) {
    size_t len = user_defined_.empty() ? 0 : MatchUserDefined(word.substr(pos));
    bool frozen = len > 0;
    if (len == 0) len = utf8::Next(word, pos) - pos;
    int index = static_cast<int>(s.symbols.size());
    s.symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), index - 1,
                         pos + len < word.size() ? index + 1 : -1, frozen});
    pos += len;
  }
  auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Scratch::Symbol& l = s.symbols[left];
    const Scratch::Symbol& r = s.symbols[right];
    if (l.frozen || r.frozen) return;
    std::string_view piece = word.substr(l.start, l.len + r.len);
    auto it = mergeable_.find(piece);
    if (it == mergeable_.end()) return;
    const SentencePiece& p = pieces_[it->second];
    s.heap.push_back({p.score, left, right, l.len + r.len});
    std::push_heap(s.heap.begin(), s.heap.end(), Scratch::PairOrder());
    if (p.type == PieceType::kUnused) {
      s.rev_merge[piece] = {word.substr(l.start, l.len), word.substr(r.start, r.len)};
    }
  };
  for (size_t i = 1; i < s.symbols.size(); ++i) add_pair(i - 1, i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), Scratch::PairOrder());
    Scratch::Pair top = s.heap.back();
    s.heap.pop_back();
    Scratch::Symbol& l = s.symbols[top.left];
    Scratch::Symbol& r = s.symbols[top.right];
    // Stale: one side was merged away or grew since this pair was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != top.size || l.next != top.right) continue;
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) s.symbols[r.next].prev = top.left;
    r.len = 0;
    add_pair(l.prev, top.left);
    add_pair(top.left, l.next);
  }
  // Unused pieces are split back into the pieces that formed them.
  auto resegment = [&](auto& self, std::string_view piece) -> void {
    if (!s.rev_merge.empty()) {
      auto it = mergeable_.find(piece);
      if (it != mergeable_.end() && pieces_[it->second].type == PieceType::kUnused) {
        auto rev = s.rev_merge.find(piece);
        if (rev != s.rev_merge.end()) {
          self(self, rev->second.first);
          self(self, rev->second.second);
          return;
        }
      }
    }
    EmitPiece(piece, ids);
  };
  for (int i = s.symbols.empty() ? -1 : 0; i >= 0; i = s.symbols[i].next) {
    resegment(resegment, word.substr(s.symbols[i].start, s.symbols[i].len));
  }
}

absl::Status SentencePieceTokenizer::EncodeTo(std::string_view text, const EncodeOptions& options,
                                              std::vector<int32_t>* ids) const {
  size_t bad = utf8::FindInvalid(text);
  if (bad != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("text to encode is not valid UTF-8 at byte ", bad));
  }
  if (options.add_bos && spec_.bos_id.has_value()) ids->push_back(*spec_.bos_id);
  Scratch& s = ThreadScratch();
  std::string& norm = s.normalized;
  std::vector<int32_t>& word_ids = s.word_ids;
  // One segment of text between special tokens: normalize, escape spaces, encode by words.
  auto encode_segment = [&](std::string_view seg) {
    if (spec_.remove_extra_whitespaces) {
      while (!seg.empty() && seg.front() == ' ') seg.remove_prefix(1);
      while (!seg.empty() && seg.back() == ' ') seg.remove_suffix(1);
    }
    if (seg.empty()) return;
    norm.clear();
    if (spec_.add_dummy_prefix) norm.append(kSpace);
    for (size_t i = 0; i < seg.size(); ++i) {
      if (seg[i] == ' ') {
        if (spec_.remove_extra_whitespaces && i > 0 && seg[i - 1] == ' ') continue;
        norm.append(kSpace);
      } else {
        norm.push_back(seg[i]);
      }
    }
    std::string_view all(norm);
    if (!split_words_) {
      EncodeWord(all, ids);
      return;
    }
    size_t start = 0;
    while (start < all.size()) {
      // A word: a run of `▁`, then characters up to the next `▁`.
      size_t end = start;
      while (all.compare(end, kSpace.size(), kSpace) == 0) end += kSpace.size();
      end = all.find(kSpace, end);
      if (end == std::string_view::npos) end = all.size();
      std::string_view word = all.substr(start, end - start);
      if (!cache_.Lookup(word, ids)) {
        word_ids.clear();
        EncodeWord(word, &word_ids);
        cache_.Insert(word, word_ids);
        ids->insert(ids->end(), word_ids.begin(), word_ids.end());
      }
      start = end;
    }
  };
  if (options.parse_special) {
    // Control and unknown pieces written out in the text (`<s>`, `</s>`) become their ids.
    size_t seg_start = 0;
    for (size_t pos = 0; !special_pieces_.empty() && pos < text.size(); ++pos) {
      if (!special_first_[static_cast<uint8_t>(text[pos])]) continue;
      int32_t found = -1;
      size_t found_len = 0;
      for (const auto& [piece, id] : special_pieces_) {  // longest first
        if (text.compare(pos, piece.size(), piece) == 0) {
          found = id;
          found_len = piece.size();
          break;
        }
      }
      if (found < 0) continue;
      encode_segment(text.substr(seg_start, pos - seg_start));
      ids->push_back(found);
      seg_start = pos + found_len;
      pos = seg_start - 1;
    }
    encode_segment(text.substr(seg_start));
  } else {
    encode_segment(text);
  }
  if (options.add_eos && spec_.eos_id.has_value()) ids->push_back(*spec_.eos_id);
  return absl::OkStatus();
}

absl::Status SentencePieceTokenizer::AppendTokenBytes(int32_t id, bool first,
                                                      std::string* out) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::OutOfRangeError(absl::StrCat("token id ", id, " is outside the vocabulary of ",
                                              vocab_size(), " (", spec_.source, ")"));
  }
  const SentencePiece& p = pieces_[id];
  switch (p.type) {
    case PieceType::kControl:
      return absl::OkStatus();
    case PieceType::kUnknown:
      out->append(spec_.unk_surface);
      return absl::OkStatus();
    case PieceType::kByte: {
      uint8_t value = 0;
      ParseBytePiece(p.text, &value);
      out->push_back(static_cast<char>(value));
      return absl::OkStatus();
    }
    default:
      break;
  }
  std::string_view text = p.text;
  if (first && spec_.add_dummy_prefix && text.substr(0, kSpace.size()) == kSpace) {
    text.remove_prefix(kSpace.size());
  }
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kSpace.size(), kSpace) == 0) {
      out->push_back(' ');
      pos += kSpace.size();
    } else {
      out->push_back(text[pos++]);
    }
  }
  return absl::OkStatus();
}

std::optional<int32_t> SentencePieceTokenizer::TokenToId(std::string_view token) const {
  auto it = by_text_.find(token);
  if (it == by_text_.end()) return std::nullopt;
  return it->second;
}

std::string SentencePieceTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return pieces_[id].text;
}

bool SentencePieceTokenizer::IsSpecial(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  PieceType t = pieces_[id].type;
  return t == PieceType::kControl || t == PieceType::kUnknown;
}

}  // namespace ponder::model
