// CodeSandbox: runs untrusted programs (model-written Python or C++) with kernel-level
// isolation, strict limits and a verdict that keeps the program's failures apart from ours.
// The design, and the measurements behind each layer, are in docs/design/sandbox.md.
//
// Layers, outermost first:
//  * a warm pool of slots; each slot leases its own unprivileged host uid (a lock file under
//    `state_dir`, so concurrent processes never share one), its own cgroup (memory, pids, cpu
//    quota, cpu accounting, OOM count, kill) and a seccomp filter; untrusted code never runs
//    as root;
//  * a fresh size-limited tmpfs work dir per session (one sample: compile + test runs),
//    visible inside the sandbox as /box;
//  * bubblewrap started after the uid drop (minimal read-only root, private /tmp and /dev/shm
//    with sizes, no network, new pid/ipc/uts/user namespaces, no nested user namespaces), or
//    the fallbacks below;
//  * rlimits, and a supervisor that owns the wall-clock deadline and the output cap, kills
//    the whole run (cgroup kill, process group) and reaps every process of it.
//
// Modes, chosen at Create in this order and logged: `bwrap`; `namespaces` (root without
// bwrap: the launcher's own clone(NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS) with a minimal root and a
// tiny init); `plain` (fork/exec with rlimits, uid drop, seccomp and cgroups but the host
// filesystem visible: degraded, refused unless `allow_degraded`). Independently, cgroups are
// used in the layout the host has (pure v2, or v1/hybrid) or, when not writable, left out
// (rlimits only).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::reward {

enum class SandboxMode { kBubblewrap, kNamespaces, kPlain };
const char* SandboxModeName(SandboxMode mode);  // "bwrap", "namespaces", "plain"

enum class CgroupLayout { kNone, kV1, kHybrid, kV2 };
const char* CgroupLayoutName(CgroupLayout layout);  // "none", "v1", "hybrid", "v2"

// How one run ended. kSandboxError is our failure (the launcher could not start or clean up
// the run), never the program's: callers retry it or report it as an error, not a score.
enum class Verdict {
  kOk,             // exit 0 (and the success marker printed, when one is required)
  kRuntimeError,   // non-zero exit, a signal not listed below, or no success marker
  kWallTimeout,    // the supervisor's wall-clock deadline passed
  kCpuTimeout,     // SIGXCPU, or SIGKILL after using the CPU-time limit
  kMemoryLimit,    // the cgroup OOM-killed a process, or MemoryError / std::bad_alloc
  kOutputLimit,    // stdout + stderr exceeded the cap (the run was killed at once)
  kFileSizeLimit,  // SIGXFSZ or EFBIG
  kSandboxError,
};
const char* VerdictName(Verdict verdict);  // "ok", "runtime_error", "wall_timeout", ...

// Limits of one run. Sizes are in MiB so that YAML stays readable.
struct SandboxLimits {
  double wall_s = 10.0;             // owned by the supervisor
  double cpu_s = 0.0;               // RLIMIT_CPU soft limit; 0 = ceil(wall_s); hard = soft + 1
  int64_t memory_mb = 512;          // cgroup memory (swap 0); counts tmpfs pages too
  int64_t address_space_mb = 4096;  // RLIMIT_AS backstop; 0 = off (e.g. sanitizer builds)
  int64_t processes = 64;           // cgroup pids.max and RLIMIT_NPROC (per slot uid)
  int64_t output_kb = 1024;         // stdout + stderr together; the head is kept
  int64_t file_size_mb = 64;        // RLIMIT_FSIZE
  int64_t stack_mb = 8;             // RLIMIT_STACK
  int64_t open_files = 256;         // RLIMIT_NOFILE
  double cpus = 1.0;                // cgroup CPU quota, in cores

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

struct SandboxOptions {
  std::string mode = "auto";  // auto | bwrap | namespaces | plain
  int64_t slots = 0;          // concurrent runs; 0 = one per core
  std::string bwrap_path = "/usr/bin/bwrap";
  // Slot uids are leased from [uid_base, uid_base + uid_count); they need no passwd entry.
  int64_t uid_base = 61000;
  int64_t uid_count = 1000;
  // Lease files, work-dir mount points (root-owned, mode 0711).
  std::string state_dir = "/run/ponder-sandbox";
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroups = "auto";  // auto | required | off
  int64_t work_dir_mb = 256;     // the session's /box (tmpfs)
  int64_t tmp_mb = 64;           // /tmp inside the sandbox
  int64_t shm_mb = 16;           // /dev/shm inside the sandbox
  // Host paths made visible read-only inside the sandbox (besides /usr, /etc/ld.so.cache and
  // /etc/alternatives), e.g. a data directory a task reads.
  std::vector<std::string> read_only_paths;
  // Accept `plain` mode (host filesystem visible) or, when not root, no pids containment.
  bool allow_degraded = false;
  // In bwrap mode with cgroups (as root), each slot keeps a Python interpreter running in its
  // sandbox that forks once per `/usr/bin/python3 [-S] [-B] script.py ...` command instead of
  // starting bwrap and Python again: several times the throughput on short test runs. A run
  // sees what a fresh `python3 script.py` would (its own __main__, argv, sys.path[0], exit
  // status, rlimits, session, /box); what differs: common standard-library modules are
  // already imported, and the string hash seed is the server's. Other commands, and any run
  // the server fails, go the ordinary way.
  bool python_fork_server = true;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// One command run inside a session.
struct SandboxCommand {
  std::vector<std::string> argv;  // argv[0]: an absolute path as seen inside the sandbox
  std::vector<std::string> env;   // KEY=VALUE added to the minimal environment
  std::string stdin_data;
  SandboxLimits limits;
  // When set, kOk also requires this text on stdout: harnesses print a per-run nonce after
  // their last test, so a program that exits 0 before the tests does not pass.
  std::string success_marker;
  // Report Python's MemoryError and C++'s std::bad_alloc (a failed run whose stderr ends
  // with them) as kMemoryLimit rather than kRuntimeError.
  bool memory_errors_are_limits = true;
};

struct SandboxResult {
  Verdict verdict = Verdict::kSandboxError;
  std::string message;  // why, in words (set for every verdict but kOk)
  int exit_code = -1;   // when the program exited
  int signal = 0;       // when it was killed by a signal
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;
  double wall_s = 0.0;
  double cpu_s = -1.0;       // from the cgroup; -1 when unknown
  int64_t oom_kills = -1;    // -1 when unknown
  int64_t stragglers = -1;   // processes still alive when the program itself ended
  bool fork_server = false;  // run by the slot's Python fork server
};

class CodeSandbox;

// A leased slot with a fresh, empty work dir (/box inside the sandbox). Runs in a session see
// each other's files (compile, then run). Releasing the session (destructor) unmounts the
// work dir and returns the slot to the pool. Not thread-safe; movable.
class SandboxSession {
 public:
  SandboxSession(SandboxSession&& other) noexcept;
  SandboxSession& operator=(SandboxSession&& other) noexcept;
  ~SandboxSession();

  // Writes a file into the work dir before a run. `name` is a plain file name (no '/').
  absl::Status WriteFile(const std::string& name, std::string_view content,
                         bool executable = false);
  // Runs a command; a non-OK status means the command itself is invalid (bad limits, empty
  // argv). Sandbox failures come back as a result with Verdict::kSandboxError.
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command);

  int uid() const;                           // the slot's host uid
  const std::string& host_work_dir() const;  // where /box lives on the host

 private:
  friend class CodeSandbox;
  SandboxSession(CodeSandbox* owner, int slot);
  void Release();
  CodeSandbox* owner_ = nullptr;
  int slot_ = -1;
};

class CodeSandbox {
 public:
  // Detects the mode and cgroup layout, leases the slot uids, creates the cgroups and probes
  // the chosen mode with a trivial run. Fails (naming why each mode was rejected) when no
  // acceptable mode works.
  static absl::StatusOr<std::unique_ptr<CodeSandbox>> Create(const SandboxOptions& options);
  ~CodeSandbox();
  CodeSandbox(const CodeSandbox&) = delete;
  CodeSandbox& operator=(const CodeSandbox&) = delete;

  SandboxMode mode() const;
  CgroupLayout cgroup_layout() const;
  bool degraded() const;  // plain mode, or no pids containment
  // One line for logs: mode, cgroups, slots, uids, and why better modes were not used.
  std::string Describe() const;
  int slots() const;
  std::vector<int> slot_uids() const;
  // The slot's cgroup.procs files (empty without cgroups); for tests that check emptiness.
  std::vector<std::string> slot_cgroup_dirs(int slot) const;
  // Host pids of the Python fork servers' own processes (the only processes of slot uids that
  // outlive a run); empty when no server runs.
  std::vector<int> fork_server_pids() const;

  // Waits for a free slot and mounts a fresh work dir in it.
  absl::StatusOr<SandboxSession> Acquire();

  // One-shot convenience: a session, the files, one command.
  struct File {
    std::string name;
    std::string content;
    bool executable = false;
  };
  absl::StatusOr<SandboxResult> Run(const std::vector<File>& files, const SandboxCommand& command);

  struct Impl;

 private:
  friend class SandboxSession;
  explicit CodeSandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder::reward
