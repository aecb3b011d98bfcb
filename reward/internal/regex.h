// A compiled PCRE2 pattern (UTF-8), safe to share between threads: each match allocates its
// own match data. Used by the exact_match and format verifiers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ponder::reward::internal {

class Regex {
 public:
  struct Flags {
    bool dotall = false;     // '.' matches newlines too
    bool multiline = false;  // ^ and $ at line breaks
    bool caseless = false;
  };
  // Errors name the pattern and the offset of the problem.
  static absl::StatusOr<Regex> Compile(const std::string& pattern, Flags flags);

  // Whether the whole text matches.
  bool FullMatch(std::string_view text) const;
  // Every match, left to right; each is the list of groups (group 0 = the whole match; an
  // unset group is empty). At most `limit` matches.
  std::vector<std::vector<std::string>> FindAll(std::string_view text, size_t limit = 10000) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string pattern_;
};

}  // namespace ponder::reward::internal
