#define PCRE2_CODE_UNIT_WIDTH 8
#include "reward/internal/regex.h"

#include <pcre2.h>

#include "absl/strings/str_cat.h"

namespace ponder::reward::internal {

struct Regex::Code {
  pcre2_code* code = nullptr;
  pcre2_code* anchored = nullptr;  // the same pattern wrapped as (?:...)\z for FullMatch
  ~Code() {
    if (code != nullptr) pcre2_code_free(code);
    if (anchored != nullptr) pcre2_code_free(anchored);
  }
};

namespace {

absl::StatusOr<pcre2_code*> CompileOne(const std::string& pattern, uint32_t options,
                                       const std::string& shown) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("bad regular expression '", shown,
                                                   "' at offset ", offset, ": ",
                                                   reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; falls back to the interpreter
  return code;
}

}  // namespace

absl::StatusOr<Regex> Regex::Compile(const std::string& pattern, Flags flags) {
  uint32_t options = PCRE2_UTF;
  if (flags.dotall) options |= PCRE2_DOTALL;
  if (flags.multiline) options |= PCRE2_MULTILINE;
  if (flags.caseless) options |= PCRE2_CASELESS;
  auto code = std::make_shared<Code>();
  absl::StatusOr<pcre2_code*> main = CompileOne(pattern, options, pattern);
  if (!main.ok()) return main.status();
  code->code = *main;
  absl::StatusOr<pcre2_code*> anchored =
      CompileOne(absl::StrCat("(?:", pattern, ")\\z"), options | PCRE2_ANCHORED, pattern);
  if (!anchored.ok()) return anchored.status();
  code->anchored = *anchored;
  Regex regex;
  regex.code_ = std::move(code);
  regex.pattern_ = pattern;
  return regex;
}

bool Regex::FullMatch(std::string_view text) const {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_->anchored, nullptr);
  int rc = pcre2_match(code_->anchored, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                       0, data, nullptr);
  pcre2_match_data_free(data);
  return rc >= 0;
}

std::vector<std::vector<std::string>> Regex::FindAll(std::string_view text, size_t limit) const {
  std::vector<std::vector<std::string>> matches;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  PCRE2_SIZE start = 0;
  while (start <= text.size() && matches.size() < limit) {
    int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                         0, data, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    uint32_t groups = pcre2_get_ovector_count(data);
    std::vector<std::string> match;
    for (uint32_t g = 0; g < groups; ++g) {
      if (ovector[2 * g] == PCRE2_UNSET) {
        match.emplace_back();
      } else {
        match.emplace_back(text.substr(ovector[2 * g], ovector[2 * g + 1] - ovector[2 * g]));
      }
    }
    matches.push_back(std::move(match));
    PCRE2_SIZE end = ovector[1];
    start = end > ovector[0] ? end : end + 1;  // an empty match moves on by one character
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
      ++start;
    }
  }
  pcre2_match_data_free(data);
  return matches;
}

}  // namespace ponder::reward::internal
