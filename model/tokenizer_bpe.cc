#include "model/tokenizer_bpe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/tokenizer_nfc.h"
#include "model/tokenizer_utf8.h"

namespace ponder::model {
namespace {

// Per-thread scratch space, so that steady-state encoding does not allocate.
struct Scratch {
  struct Symbol {
    int32_t id;
    int prev, next;
  };
  struct Pair {
    int32_t rank;
    int left, right;
    int32_t left_id, right_id, merged;
  };
  struct PairOrder {  // a max-heap on this order pops the lowest rank, then the leftmost
    bool operator()(const Pair& a, const Pair& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };
  std::vector<Symbol> symbols;
  std::vector<Pair> heap;
  std::vector<int32_t> piece_ids;
  std::string normalized, prefixed;
  std::vector<std::vector<std::string_view>> pieces;  // one list per regex level
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

std::string BpeTokenizer::Describe() const {
  return absl::StrCat("byte-level BPE (", source_, ", ", vocab_size(), " tokens, ", merges_.size(),
                      " merges)");
}

void BpeTokenizer::MergePiece(std::string_view piece, std::vector<int32_t>* ids) const {
  Scratch& s = ThreadScratch();
  s.symbols.clear();
  s.heap.clear();
  const int n = static_cast<int>(piece.size());
  for (int i = 0; i < n; ++i) {
    s.symbols.push_back({byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1});
  }
  auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    int32_t a = s.symbols[left].id, b = s.symbols[right].id;
    auto it = merges_.find(PairKey(a, b));
    if (it == merges_.end()) return;
    s.heap.push_back({it->second.rank, left, right, a, b, it->second.id});
    std::push_heap(s.heap.begin(), s.heap.end(), Scratch::PairOrder());
  };
  for (int i = 1; i < n; ++i) add_pair(i - 1, i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), Scratch::PairOrder());
    Scratch::Pair top = s.heap.back();
    s.heap.pop_back();
    Scratch::Symbol& l = s.symbols[top.left];
    // Stale when either side has been merged into something else since it was queued.
    if (l.id != top.left_id || l.next != top.right || s.symbols[top.right].id != top.right_id) {
      continue;
    }
    Scratch::Symbol& r = s.symbols[top.right];
    l.id = top.merged;
    l.next = r.next;
    if (r.next >= 0) s.symbols[r.next].prev = top.left;
    r.id = -1;
    add_pair(l.prev, top.left);
    add_pair(top.left, l.next);
  }
  for (int i = n > 0 ? 0 : -1; i >= 0; i = s.symbols[i].next) ids->push_back(s.symbols[i].id);
}

void BpeTokenizer::EncodePiece(std::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.size() == 1) {
    ids->push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (cache_.Lookup(piece, ids)) return;
  Scratch& s = ThreadScratch();
  std::vector<int32_t>& out = s.piece_ids;
  out.clear();
  auto whole = ignore_merges_ ? by_bytes_.find(piece) : by_bytes_.end();
  if (whole != by_bytes_.end()) {
    out.push_back(whole->second);
  } else {
    MergePiece(piece, &out);
  }
  cache_.Insert(piece, out);
  ids->insert(ids->end(), out.begin(), out.end());
}

absl::Status BpeTokenizer::EncodePieces(std::string_view text, size_t level,
                                        std::vector<int32_t>* ids) const {
  if (level == splits_.size()) {
    EncodePiece(text, ids);
    return absl::OkStatus();
  }
  Scratch& s = ThreadScratch();  // s.pieces has one list per level (see EncodeSegment)
  s.pieces[level].clear();
  absl::Status status = splits_[level]->Split(text, &s.pieces[level]);
  if (!status.ok()) return status;
  for (size_t i = 0; i < s.pieces[level].size(); ++i) {
    status = EncodePieces(s.pieces[level][i], level + 1, ids);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status BpeTokenizer::EncodeSegment(std::string_view text, std::vector<int32_t>* ids) const {
  if (text.empty()) return absl::OkStatus();
  Scratch& s = ThreadScratch();
  if (s.pieces.size() < splits_.size()) s.pieces.resize(splits_.size());
  if (nfc_ && nfc::MayChange(text)) {
    s.normalized.clear();
    nfc::Normalize(text, &s.normalized);
    text = s.normalized;
  }
  if (add_prefix_space_ && text.front() != ' ') {
    s.prefixed.assign(1, ' ');
    s.prefixed.append(text);
    text = s.prefixed;
  }
  return EncodePieces(text, 0, ids);
}

absl::Status BpeTokenizer::EncodeTo(std::string_view text, const EncodeOptions& options,
                                    std::vector<int32_t>* ids) const {
  size_t bad = utf8::FindInvalid(text);
  if (bad != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("text to encode is not valid UTF-8 at byte ", bad));
  }
  if (options.add_bos && bos_id_.has_value()) ids->push_back(*bos_id_);
  size_t segment_start = 0;
  if (options.parse_special) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
      const auto& candidates = added_by_first_byte_[static_cast<uint8_t>(text[pos])];
      if (candidates.empty()) continue;
      for (const auto& [content, id] : candidates) {  // longest first
        if (text.compare(pos, content.size(), content) != 0) continue;
        absl::Status status = EncodeSegment(text.substr(segment_start, pos - segment_start), ids);
        if (!status.ok()) return status;
        ids->push_back(id);
        segment_start = pos + content.size();
        pos = segment_start - 1;
        break;
      }
    }
  }
  absl::Status status = EncodeSegment(text.substr(segment_start), ids);
  if (!status.ok()) return status;
  if (options.add_eos && eos_id_.has_value()) ids->push_back(*eos_id_);
  return absl::OkStatus();
}

absl::Status BpeTokenizer::AppendTokenBytes(int32_t id, bool first, std::string* out) const {
  if (id < 0 || id >= vocab_size() || !present_[id]) {
    return absl::OutOfRangeError(absl::StrCat("token id ", id,
                                              id < 0 || id >= vocab_size()
                                                  ? " is outside the vocabulary of "
                                                  : " has no token in the vocabulary of ",
                                              vocab_size(), " (", source_, ")"));
  }
  out->append(token_bytes_[id]);
  return absl::OkStatus();
}

std::optional<int32_t> BpeTokenizer::TokenToId(std::string_view token) const {
  auto it = by_text_.find(token);
  if (it == by_text_.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return token_text_[id];
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

}  // namespace ponder::model
