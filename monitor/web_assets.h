// The dashboard page's files, embedded in the binary at build time: ours from monitor/web/
// and the chart library from the npm lockfile (monitor/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <string_view>

namespace ponder::monitor {

struct WebAsset {
  const char* path;  // "/index.html", "/static/app.js", ...
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

// The asset served at `path`, or null.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace ponder::monitor
