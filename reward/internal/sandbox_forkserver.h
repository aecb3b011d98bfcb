// The Python fork server: one pre-started interpreter per slot, inside the slot's sandbox,
// that forks once per run instead of starting bubblewrap and Python again (the start-up is
// most of what a short test run costs: docs/design/sandbox.md §5).
//
// Layout: the server is an ordinary sandboxed program (LaunchAndSupervise, in bwrap mode, as
// the slot uid, with the seccomp filter and rlimits, in a cgroup of its own) that runs
// `python3 -S -I -B -c <server source>` with a control socket as descriptor 6. It imports a
// set of common standard-library modules, makes itself non-dumpable (runs share its uid: they
// must not be able to open its /proc/PID/mem and change later runs) and waits. Per run, the
// supervisor sends the request (argv, environment, rlimits) with the run's stdin, stdout and
// stderr descriptors; the server forks; the child starts a session, takes the descriptors,
// sets the rlimits, enters /box and runs the script as `python3 [-S] script.py` would (its own
// __main__, sys.argv, sys.path[0], exit status, traceback). The server reports the child's
// wait status. The supervisor owns the deadline and the output cap as for any run, and after
// the run kills every process of the server's cgroup except the server's own (daemons,
// stragglers), then empties the sandbox's /tmp and /dev/shm.
//
// The session work dir reaches the server through mount propagation: the slot's mount point
// is a shared bind mount of itself, bound at /box when the server starts (with no session
// mounted), so each session's tmpfs, mounted on top of it on the host, appears at /box inside.
//
// Anything unexpected (the server died, was stopped, did not report, could not set the run
// up) makes Run return nothing: the caller reruns the command the ordinary way, whose result
// stands, and replaces the server. A program that kills the server gains nothing.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reward/internal/sandbox_cgroup.h"
#include "reward/internal/sandbox_launch.h"
#include "reward/sandbox.h"

namespace ponder::reward::internal {

// One run in the server.
struct ForkRequest {
  std::vector<std::string> argv;  // the script (relative to cwd, or absolute) and its arguments
  bool site = true;               // import site first, as python3 does without -S
  std::vector<std::string> env;   // the run's whole environment, KEY=VALUE
  std::vector<LaunchPlan::Limit> rlimits;
  std::string cwd = "/box";
};

// The request `command` becomes when the server can run it exactly as the command line would:
// `/usr/bin/python3 [-S] [-B] script [args...]`, with no PYTHON* variable besides
// PYTHONDONTWRITEBYTECODE in its environment. nullopt otherwise.
std::optional<ForkRequest> ForkRequestFor(const SandboxCommand& command,
                                          const std::vector<std::string>& base_env);

// The modules the server imports before it forks (a run that imports them pays nothing).
const std::vector<std::string>& ForkServerPreloads();

class PythonForkServer {
 public:
  // Starts the server. `plan` is the slot's launch plan for the interpreter (bwrap and its
  // arguments, uid, seccomp, rlimits for the server itself) without the command; `cgroup` is
  // the server's own cgroup (it must outlive the server). Waits until the server is ready.
  static absl::StatusOr<std::unique_ptr<PythonForkServer>> Start(LaunchPlan plan,
                                                                 SlotCgroup* cgroup);
  ~PythonForkServer();  // kills the server and everything in its cgroup
  PythonForkServer(const PythonForkServer&) = delete;
  PythonForkServer& operator=(const PythonForkServer&) = delete;

  // Runs one request. nullopt when the server failed (`why` says how): rerun elsewhere, and
  // drop this server.
  std::optional<RunOutcome> Run(const ForkRequest& request, const std::string& stdin_data,
                                absl::Duration wall, int64_t output_cap, std::string* why);

  // Host pids of the server's own processes (bwrap's, the interpreter).
  const std::vector<int>& pids() const { return keep_; }

 private:
  PythonForkServer() = default;
  bool Send(const ForkRequest& request, int stdin_fd, int out_w, int err_w, std::string* why);
  // Waits up to `wait` for one message from the server; "" when it closed the socket.
  std::optional<std::string> Receive(absl::Duration wait);
  void ClearScratch();
  bool ServerStopped() const;              // the interpreter is stopped (SIGSTOP) or gone
  bool Reaped(absl::Duration wait) const;  // nothing of the run is left, not even zombies
  void Stop();  // closes the socket, kills the cgroup's processes, joins the supervisor

  SlotCgroup* cgroup_ = nullptr;
  int ctl_ = -1;
  std::vector<int> keep_;
  int interpreter_pid_ = -1;
  int init_pid_ = -1;  // the interpreter's parent: bwrap's init
  std::thread supervisor_;
  std::atomic<bool> ended_{false};
  RunOutcome ended_outcome_;  // the server's own run, once ended_
};

}  // namespace ponder::reward::internal
