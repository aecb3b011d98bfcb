#include "monitor/web_assets.h"

namespace ponder::monitor {

// Defined in the generated web_assets_data.cc (monitor/CMakeLists.txt).
extern const WebAsset kWebAssets[];
extern const size_t kNumWebAssets;

const WebAsset* FindWebAsset(std::string_view path) {
  for (size_t i = 0; i < kNumWebAssets; ++i) {
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  }
  return nullptr;
}

}  // namespace ponder::monitor
