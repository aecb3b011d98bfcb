#include "model/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/str_cat.h"

namespace ponder::model {
namespace {

std::string ErrorText(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

// Per-thread match state: one match block, and a JIT stack larger than the default 32 KiB so
// that long runs of whitespace do not exhaust it.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(4, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchState& ThreadMatchState() {
  thread_local MatchState state;
  return state;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PretokenizerRegex>> PretokenizerRegex::Create(
    const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("pre-tokenizer regex '", pattern,
                                                   "' does not compile at offset ", offset, ": ",
                                                   ErrorText(error)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if unavailable
  auto regex = std::unique_ptr<PretokenizerRegex>(new PretokenizerRegex(pattern));
  regex->code_ = code;
  return regex;
}

PretokenizerRegex::~PretokenizerRegex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

absl::Status PretokenizerRegex::Split(std::string_view text,
                                      std::vector<std::string_view>* pieces) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchState& state = ThreadMatchState();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0, piece_start = 0;
  while (start < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, state.data,
                         state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      return absl::ResourceExhaustedError(absl::StrCat("pre-tokenizer regex failed at byte ", start,
                                                       " of a ", text.size(),
                                                       "-byte text: ", ErrorText(rc)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {  // an empty match: move on by one character
      start = begin + 1;
      while (start < text.size() && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) ++start;
      continue;
    }
    if (begin > piece_start) pieces->push_back(text.substr(piece_start, begin - piece_start));
    pieces->push_back(text.substr(begin, end - begin));
    piece_start = start = end;
  }
  if (piece_start < text.size()) pieces->push_back(text.substr(piece_start));
  return absl::OkStatus();
}

}  // namespace ponder::model
