// Starting and supervising one sandboxed run. Process layout:
//
//   verifier (supervisor thread)       owns the wall deadline, the output cap and the pipes
//     └─ run init  "P"  (root, our code) setsid, child subreaper; in `namespaces` mode it is
//         │                              pid 1 of new pid/mount/net/ipc/uts namespaces and
//         │                              builds the minimal root first; kills and reaps
//         │                              every process of the run, then reports
//         └─ program "Q" (slot uid)      joins the slot cgroup, setsid, rlimits, drops to the
//                                        slot uid, seccomp (or bwrap applies it), execs
//
// The supervisor asks P to stop the run with SIGUSR1 (deadline, output cap). P answers on a
// status pipe once nothing of the run is left. The supervisor itself never calls
// waitpid(-1) and is not a subreaper, so other children of the process are left alone.
//
// P and Q are made with the raw clone syscall from a multithreaded process: the code that
// runs in them uses only system calls and memory prepared beforehand (no allocation, no
// locks, no glibc functions that track threads).
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "reward/sandbox.h"

namespace ponder::reward::internal {

// One step of building the minimal root in `namespaces` mode (paths are absolute, under the
// new root while it is being built).
struct MountOp {
  enum Kind { kMkdir, kTmpfs, kBindReadOnly, kBindReadWrite, kBindDevice, kProc, kSymlink };
  Kind kind;
  std::string source;  // bind source, symlink target, tmpfs options
  std::string target;
};

struct LaunchPlan {
  SandboxMode mode = SandboxMode::kBubblewrap;
  std::vector<std::string> argv;  // what Q execs (bwrap and its arguments, or the program)
  std::vector<std::string> env;
  bool drop_uid = true;  // false only when the process is not root
  uid_t uid = 0;
  gid_t gid = 0;
  struct Limit {
    int resource;
    rlim_t soft, hard;
  };
  std::vector<Limit> rlimits;
  std::vector<int> cgroup_join_fds;  // Q writes "0" to each before anything else
  std::string cgroup_procs;          // listing / killing the run's processes ("" = none)
  std::string cgroup_kill;           // cgroup.kill ("" = none)
  // plain mode without a cgroup: after the program ends, P kills every process of the slot
  // uid (kill(-1) with the slot uid as its effective uid) to catch daemons.
  bool kill_by_uid = false;
  int seccomp_memfd = -1;                       // bwrap mode: passed as fd 3 (--seccomp 3)
  const sock_fprog* seccomp_program = nullptr;  // other modes: loaded by Q
  std::string chdir_to;                         // Q's working directory before exec
  // Given to the program as descriptor 6 (the fork server's control socket). Owned by the
  // launch: closed in the caller's process once the run has started (or failed to).
  int pass_fd = -1;
  std::string new_root;         // namespaces mode: the mount point to build on
  std::vector<MountOp> mounts;  // namespaces mode
};

// What the supervisor saw.
struct RunOutcome {
  bool started = false;       // P was created
  std::string sandbox_error;  // set when the run could not be set up or cleaned up
  std::string exec_error;     // the command itself could not be executed (no such file)
  bool exited = false;        // the program (Q) ended and was reaped
  int wait_status = 0;        // its waitpid status
  int bwrap_exit_code = -1;   // from bwrap's --json-status-fd, when it reported one
  bool killed_for_deadline = false;
  bool killed_for_output = false;
  int stragglers = -1;  // processes of the run left when the program ended
  std::string out, err;
  bool truncated = false;
  double wall_s = 0;
};

// The descriptor number `LaunchPlan::pass_fd` has in the program.
constexpr int kPassedFd = 6;

// A sealed memfd holding `data`, positioned at 0, close-on-exec (a run's stdin); -1 on error.
int MakeStdin(const std::string& data);

// Appends what `fd` (non-blocking) has to `sink` while stdout and stderr together stay within
// `cap` bytes (the head is kept). Returns false at EOF. Sets `*over` when the cap was passed.
bool ReadCapped(int fd, std::string& sink, int64_t used_elsewhere, int64_t cap, bool* over);

// SIGKILLs every process whose real or saved uid is `uid` (from a child that becomes that
// uid, so nothing else can be hit). Used on leased slot uids left over by a crashed process.
void KillEveryProcessOf(uid_t uid);

// Starts the run, feeds it `stdin_data`, collects at most `output_cap` bytes of stdout and
// stderr together, enforces `wall`, and returns once every process of the run is gone.
RunOutcome LaunchAndSupervise(const LaunchPlan& plan, const std::string& stdin_data,
                              absl::Duration wall, int64_t output_cap);

}  // namespace ponder::reward::internal
