// Shared by the sandbox tests: making a sandbox (tests that run programs need root and
// bubblewrap, as CI has; elsewhere they skip), running Python and C++ in it, and checking that
// the host is unchanged afterwards.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "reward/sandbox.h"
#include "tests/skip.h"

namespace ponder::reward::testing {

// Small limits for the attack tests (docs/design/sandbox.md §7).
inline SandboxLimits SmallLimits() {
  SandboxLimits limits;
  limits.wall_s = 2.0;
  limits.cpu_s = 1.0;
  limits.memory_mb = 256;
  limits.processes = 64;
  return limits;
}

inline bool CanSandbox(std::string* why) {
  if (::geteuid() != 0) {
    *why = "needs root (CI runs as root): slot uids, cgroups and tmpfs work dirs";
    return false;
  }
  if (::access("/usr/bin/bwrap", X_OK) != 0) {
    *why = "needs /usr/bin/bwrap (apt-get install bubblewrap)";
    return false;
  }
  return true;
}

#define PONDER_REQUIRE_SANDBOX()                                                  \
  do {                                                                            \
    std::string why_;                                                             \
    if (!::ponder::reward::testing::CanSandbox(&why_)) PONDER_SKIP_OR_FAIL(why_); \
  } while (0)

inline std::unique_ptr<CodeSandbox> MakeSandbox(SandboxOptions options = {}) {
  if (options.slots == 0) options.slots = 2;
  absl::StatusOr<std::unique_ptr<CodeSandbox>> sandbox = CodeSandbox::Create(options);
  EXPECT_TRUE(sandbox.ok()) << sandbox.status();
  return sandbox.ok() ? std::move(*sandbox) : nullptr;
}

inline SandboxResult RunPython(CodeSandbox& sandbox, const std::string& code,
                               const SandboxLimits& limits = SmallLimits(),
                               const std::string& stdin_data = "") {
  SandboxCommand command;
  command.argv = {"/usr/bin/python3", "main.py"};
  command.limits = limits;
  command.stdin_data = stdin_data;
  absl::StatusOr<SandboxResult> result = sandbox.Run({{"main.py", code}}, command);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : SandboxResult{};
}

struct CppRun {
  SandboxResult compile;
  SandboxResult run;
};

// Compiles `code` with g++ inside the sandbox, then runs it (when it compiled).
inline CppRun RunCpp(CodeSandbox& sandbox, const std::string& code,
                     const SandboxLimits& limits = SmallLimits(),
                     const std::string& stdin_data = "") {
  CppRun out;
  absl::StatusOr<SandboxSession> session = sandbox.Acquire();
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return out;
  EXPECT_TRUE(session->WriteFile("main.cc", code).ok());
  SandboxCommand compile;
  compile.argv = {"/usr/bin/g++", "-O1", "-std=c++17", "-o", "main", "main.cc"};
  compile.limits.wall_s = 30;
  compile.limits.memory_mb = 512;
  compile.limits.processes = 16;
  absl::StatusOr<SandboxResult> compiled = session->Run(compile);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  if (!compiled.ok()) return out;
  out.compile = *compiled;
  if (compiled->verdict != Verdict::kOk) return out;
  SandboxCommand run;
  run.argv = {"./main"};
  run.limits = limits;
  run.stdin_data = stdin_data;
  absl::StatusOr<SandboxResult> ran = session->Run(run);
  EXPECT_TRUE(ran.ok()) << ran.status();
  if (ran.ok()) out.run = *ran;
  return out;
}

// Pids of processes whose real uid is `uid`.
inline std::vector<int> ProcessesOfUid(int uid) {
  std::vector<int> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (struct dirent* e = readdir(proc)) {
    int pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        std::vector<std::string> parts =
            absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
        int real;
        if (parts.size() > 1 && absl::SimpleAtoi(parts[1], &real) && real == uid) {
          pids.push_back(pid);
        }
        break;
      }
    }
  }
  closedir(proc);
  return pids;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// A name no other test run uses (for files an attack tries to create on the host).
inline std::string UniqueName(const std::string& prefix) {
  std::random_device rd;
  return absl::StrCat(prefix, "-", ::getpid(), "-", rd());
}

// After a run: no process of any slot uid is left but the Python fork servers' own, and the
// slot cgroups are empty.
inline void ExpectHostClean(const CodeSandbox& sandbox) {
  std::vector<int> servers = sandbox.fork_server_pids();
  for (int uid : sandbox.slot_uids()) {
    for (int pid : ProcessesOfUid(uid)) {
      EXPECT_NE(std::find(servers.begin(), servers.end(), pid), servers.end())
          << "process " << pid << " of slot uid " << uid
          << " remains: " << ReadText(absl::StrCat("/proc/", pid, "/cmdline")).substr(0, 200);
    }
  }
  for (int slot = 0; slot < sandbox.slots(); ++slot) {
    for (const std::string& dir : sandbox.slot_cgroup_dirs(slot)) {
      std::string procs = ReadText(dir + "/cgroup.procs");
      EXPECT_TRUE(procs.empty()) << dir << " still holds: " << procs;
    }
  }
}

}  // namespace ponder::reward::testing
