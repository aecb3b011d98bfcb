// A hash map from std::string keys that accepts std::string_view for lookups without building a
// string. (Debian's Abseil has its own absl::string_view type, so flat_hash_map's built-in
// heterogeneous lookup does not take std::string_view.)
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace ponder::model {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringViewHash, StringViewEq>;

}  // namespace ponder::model
