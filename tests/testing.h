// Shared by the tests: where to find the repository's files and the built binaries, and a
// way to run a command and collect what it printed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace ponder::testing {

// The repository root: $PONDER_SOURCE_DIR (CTest sets it), else the working directory (a test
// binary run by hand from the repository root).
inline std::string SourcePath(const std::string& relative) {
  const char* root = std::getenv("PONDER_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/" + relative;
}

// The build tree: $PONDER_BINARY_DIR (CTest sets it), else `build` under the working directory.
inline std::string BinaryPath(const std::string& relative) {
  const char* root = std::getenv("PONDER_BINARY_DIR");
  return std::string(root != nullptr ? root : "build") + "/" + relative;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `command` through /bin/sh; stderr is collected through a temporary file.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  char err_path[] = "/tmp/ponder_test_stderr_XXXXXX";
  int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  FILE* pipe = popen((command + " 2>" + err_path).c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.out.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = ReadFile(err_path);
  std::remove(err_path);
  return result;
}

}  // namespace ponder::testing
