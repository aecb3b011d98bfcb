// Shared by the tests: where to find the repository's files and the built binaries, and a
// way to run a command and collect what it printed.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

// A server (`ponder rollout`, `ponder reward`, ...) started in the background, its stdout in
// `out_path` and stderr in `out_path`.err; `address` is what it prints as "listening on
// HOST:PORT" (empty when it exited or said nothing within a minute). Stopped with SIGTERM
// when destroyed.
struct Server {
  pid_t pid = -1;
  std::string address;

  Server(std::vector<std::string> args, const std::string& out_path) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, (out_path + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      pid = -1;
      return;
    }
    const std::string key = "listening on ";
    for (int i = 0; i < 1200 && address.empty(); ++i) {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {  // it failed to start
        pid = -1;
        return;
      }
      const std::string text = ReadFile(out_path);
      const size_t at = text.find(key);
      const size_t end = at == std::string::npos ? at : text.find_first_of(" \n", at + key.size());
      if (end != std::string::npos) {
        address = text.substr(at + key.size(), end - at - key.size());
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  ~Server() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status;
      waitpid(pid, &status, 0);
    }
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
};

}  // namespace ponder::testing
