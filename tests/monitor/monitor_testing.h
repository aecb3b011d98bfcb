// Helpers of the monitor tests: promtool, temporary run directories.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing.h"

namespace ponder::monitor {

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

// `promtool check metrics` (Debian's `prometheus` package, scripts/install-deps.sh) on `text`.
// Lint problems (exit 3) count as failures too.
inline PromtoolResult PromtoolCheck(const std::string& text) {
  const std::string path = ::testing::TempDir() + "/promtool_input.txt";
  std::ofstream(path, std::ios::trunc) << text;
  testing::CommandResult r =
      testing::RunCommand("promtool check metrics < " + path + " 2>&1 || exit $?");
  if (r.exit_code == 127) r.out += "promtool not found: run scripts/install-deps.sh";
  return {r.exit_code, r.out + r.err};
}

}  // namespace ponder::monitor
