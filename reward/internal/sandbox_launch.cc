#include "reward/internal/sandbox_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ponder::reward::internal {
namespace {

// ---- Records on the status pipe (P and Q to the supervisor) --------------------------------

constexpr int32_t kMagic = 0x504e4452;
enum : int32_t { kFinal = 1, kChildError = 2, kInitError = 3 };

struct StatusRecord {
  int32_t magic;
  int32_t kind;
  int32_t wait_status;
  int32_t exited;
  int32_t stragglers;
  int32_t err;  // errno of the failed step
  char step[80];
};

// Fixed descriptors in Q, before exec.
constexpr int kSeccompFd = 3;  // bwrap --seccomp 3
constexpr int kJsonFd = 4;     // bwrap --json-status-fd 4
constexpr int kStatusFd = 5;   // close-on-exec: gone once the program runs

// Everything the children need, prepared before clone so that they do not allocate.
struct ChildContext {
  const LaunchPlan* plan;
  std::vector<char*> argv, envp;
  std::vector<const char*> mount_targets;  // plan->mounts[i].target under new_root
  std::vector<int> keep;                   // P's descriptors (sorted)
  int stdin_fd, out_w, err_w, status_w, json_w;
  pid_t supervisor_pid;
};

void CopyStep(char* dst, const char* src) {
  size_t i = 0;
  for (; src[i] != '\0' && i + 1 < sizeof(StatusRecord::step); ++i) dst[i] = src[i];
  dst[i] = '\0';
}

void WriteRecord(int fd, int32_t kind, int32_t wait_status, int32_t exited, int32_t stragglers,
                 int32_t err, const char* step) {
  StatusRecord r;
  std::memset(&r, 0, sizeof(r));
  r.magic = kMagic;
  r.kind = kind;
  r.wait_status = wait_status;
  r.exited = exited;
  r.stragglers = stragglers;
  r.err = err;
  CopyStep(r.step, step);
  ssize_t n;
  do {
    n = ::write(fd, &r, sizeof(r));
  } while (n < 0 && errno == EINTR);
}

// Where Q reports a failed step: P's status descriptor until Q moves it to kStatusFd. (Each
// child has its own copy of this variable; the supervisor never writes it.)
int g_child_status_fd = -1;

[[noreturn]] void ChildFail(const char* step) {
  WriteRecord(g_child_status_fd, kChildError, 0, 0, -1, errno, step);
  _exit(127);
}

pid_t RawFork(unsigned long flags) {
  return static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

int64_t MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ResetSignals() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
}

// Closes every descriptor not in `keep` (sorted ascending).
void CloseAllBut(const int* keep, size_t n) {
  unsigned int next = 0;
  for (size_t i = 0; i < n; ++i) {
    if (keep[i] < 0 || static_cast<unsigned int>(keep[i]) < next) continue;
    if (static_cast<unsigned int>(keep[i]) > next) {
      syscall(SYS_close_range, next, static_cast<unsigned int>(keep[i]) - 1, 0);
    }
    next = static_cast<unsigned int>(keep[i]) + 1;
  }
  syscall(SYS_close_range, next, ~0u, 0);
}

// ---- Q: the program ------------------------------------------------------------------------

[[noreturn]] void RunProgram(const ChildContext& c) {
  const LaunchPlan& plan = *c.plan;
  g_child_status_fd = c.status_w;
  // Join the slot's cgroups first, while still root: limits apply before anything else.
  for (int fd : plan.cgroup_join_fds) {
    if (::write(fd, "0", 1) != 1) ChildFail("join the slot cgroup");
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::setsid() < 0) ChildFail("setsid");
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail("PR_SET_PDEATHSIG");
  for (const auto& limit : plan.rlimits) {
    struct rlimit rl = {limit.soft, limit.hard};
    if (::setrlimit(limit.resource, &rl) != 0) ChildFail("setrlimit");
  }
  // Descriptors: 0 stdin, 1 stdout, 2 stderr, [3 seccomp, 4 bwrap status], 5 our status,
  // [6 passed to the program].
  int sources[7] = {c.stdin_fd, c.out_w, c.err_w, -1, -1, c.status_w, plan.pass_fd};
  if (plan.mode == SandboxMode::kBubblewrap) {
    sources[kSeccompFd] = plan.seccomp_memfd;
    sources[kJsonFd] = c.json_w;
  }
  int high[7];
  for (int i = 0; i < 7; ++i) {
    high[i] = sources[i] < 0 ? -1 : ::fcntl(sources[i], F_DUPFD_CLOEXEC, 100);
    if (sources[i] >= 0 && high[i] < 0) ChildFail("dup descriptors");
  }
  for (int i = 0; i < 7; ++i) {
    if (high[i] >= 0 && ::dup2(high[i], i) != i) ChildFail("dup2 descriptors");
  }
  ::fcntl(kStatusFd, F_SETFD, FD_CLOEXEC);
  g_child_status_fd = kStatusFd;
  syscall(SYS_close_range, plan.pass_fd >= 0 ? 7u : 6u, ~0u, 0);
  if (plan.mode == SandboxMode::kBubblewrap && ::lseek(kSeccompFd, 0, SEEK_SET) != 0) {
    ChildFail("rewind the seccomp program");
  }
  if (!plan.chdir_to.empty() && ::chdir(plan.chdir_to.c_str()) != 0) ChildFail("chdir");
  if (plan.drop_uid) {
    // Raw system calls: glibc's wrappers would try to reach the parent's other threads.
    if (syscall(SYS_setgroups, 0, nullptr) != 0) ChildFail("setgroups");
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) ChildFail("setresgid");
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) ChildFail("setresuid");
    if (syscall(SYS_getuid) == 0 || syscall(SYS_geteuid) == 0) {
      errno = EPERM;
      ChildFail("drop root (still uid 0)");
    }
  }
  if (plan.mode != SandboxMode::kBubblewrap) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail("PR_SET_NO_NEW_PRIVS");
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, plan.seccomp_program) != 0) {
      ChildFail("load the seccomp filter");
    }
  }
  ::execve(c.argv[0], c.argv.data(), c.envp.data());
  ChildFail("exec");
}

// Q's stack while it shares P's memory (P's own copy of this array: P is a separate process).
alignas(64) char g_program_stack[256 * 1024];

int ProgramEntry(void* context) { RunProgram(*static_cast<const ChildContext*>(context)); }

// ---- P: the run's init -----------------------------------------------------------------------

int BuildRoot(const ChildContext& c, const char** step) {
  const LaunchPlan& plan = *c.plan;
  *step = "make mounts private";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return -1;
  *step = "mount the new root";
  if (::mount("tmpfs", plan.new_root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") !=
      0) {
    return -1;
  }
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    const MountOp& op = plan.mounts[i];
    const char* target = c.mount_targets[i];
    const char* source = op.source.c_str();
    *step = target;
    switch (op.kind) {
      case MountOp::kMkdir:
        if (::mkdir(target, 0755) != 0 && errno != EEXIST) return -1;
        break;
      case MountOp::kTmpfs:
        if (::mkdir(target, 0755) != 0 && errno != EEXIST) return -1;
        if (::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, source) != 0) return -1;
        break;
      case MountOp::kProc:
        if (::mkdir(target, 0555) != 0 && errno != EEXIST) return -1;
        if (::mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
          return -1;
        }
        break;
      case MountOp::kSymlink:
        if (::symlink(source, target) != 0) return -1;
        break;
      case MountOp::kBindReadOnly:
      case MountOp::kBindReadWrite:
      case MountOp::kBindDevice: {
        struct stat st;
        if (::stat(source, &st) != 0) return -1;
        if (S_ISDIR(st.st_mode)) {
          if (::mkdir(target, 0755) != 0 && errno != EEXIST) return -1;
        } else {
          int fd = ::open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
          if (fd < 0) return -1;
          ::close(fd);
        }
        if (::mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return -1;
        if (op.kind != MountOp::kBindDevice) {
          unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
          if (op.kind == MountOp::kBindReadOnly) flags |= MS_RDONLY;
          if (::mount(nullptr, target, nullptr, flags, nullptr) != 0) return -1;
        }
        break;
      }
    }
  }
  *step = "pivot_root";
  if (::chdir(plan.new_root.c_str()) != 0) return -1;
  if (syscall(SYS_pivot_root, ".", ".") != 0) return -1;
  if (::umount2(".", MNT_DETACH) != 0) return -1;
  if (::chdir("/") != 0) return -1;
  *step = "remount the root read-only";
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
              nullptr) != 0) {
    return -1;
  }
  *step = "sethostname";
  if (::sethostname("sandbox", 7) != 0) return -1;
  return 0;
}

// Counts the run's processes in the slot cgroup (-1 without one).
int CountProcs(const char* path) {
  if (path == nullptr || path[0] == '\0') return -1;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  int count = 0;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    for (ssize_t i = 0; i < n; ++i) count += buf[i] == '\n';
  }
  ::close(fd);
  return count;
}

// SIGKILLs each pid listed in a cgroup.procs file (pure v1: no cgroup.kill).
void KillListed(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  long pid = 0;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
      } else {
        if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
        pid = 0;
      }
    }
  }
  ::close(fd);
}

// kill(-1, SIGKILL) from a short-lived child that has become `uid` (real, effective and
// saved): it reaches exactly the processes of that uid. (With only the effective uid changed,
// the real uid 0 would match every root process.) The caller reaps the child.
pid_t KillAsUid(uid_t uid) {
  pid_t k = RawFork(0);
  if (k == 0) {
    if (syscall(SYS_setresgid, uid, uid, uid) == 0 && syscall(SYS_setresuid, uid, uid, uid) == 0 &&
        syscall(SYS_getuid) != 0) {
      ::kill(-1, SIGKILL);
    }
    _exit(0);
  }
  return k;
}

void KillRun(const ChildContext& c, pid_t q) {
  const LaunchPlan& plan = *c.plan;
  if (q > 0) {
    ::kill(-q, SIGKILL);  // Q's process group (Q is a session leader)
    ::kill(q, SIGKILL);
  }
  if (!plan.cgroup_kill.empty()) {
    int fd = ::open(plan.cgroup_kill.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, "1", 1);
      ::close(fd);
    }
  } else if (!plan.cgroup_procs.empty()) {
    KillListed(plan.cgroup_procs.c_str());
  }
  if (plan.mode == SandboxMode::kNamespaces) {
    ::kill(-1, SIGKILL);  // P is pid 1 here: every other process of the namespace
  } else if (plan.kill_by_uid) {
    pid_t killer = KillAsUid(plan.uid);
    int status;
    // Reaped here, so that the reap loop's "no children left" stays reachable.
    while (killer > 0 && ::waitpid(killer, &status, __WALL) < 0 && errno == EINTR) {
    }
  }
}

[[noreturn]] void RunInit(const ChildContext& c) {
  const LaunchPlan& plan = *c.plan;
  ResetSignals();  // handlers of the verifier process must not run here
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (plan.mode != SandboxMode::kNamespaces && ::getppid() != c.supervisor_pid) _exit(1);
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  CloseAllBut(c.keep.data(), c.keep.size());
  if (plan.mode == SandboxMode::kNamespaces) {
    const char* step = "";
    if (BuildRoot(c, &step) != 0) {
      WriteRecord(c.status_w, kInitError, 0, 0, -1, errno, step);
      _exit(1);
    }
  }
  // SIGCHLD and SIGUSR1 are blocked (inherited): they are taken with sigwaitinfo below.
  // Q shares P's memory until it execs (P waits meanwhile), on a stack of its own: no copy
  // of the page tables, which are the verifier's.
  pid_t q = ::clone(&ProgramEntry, g_program_stack + sizeof(g_program_stack),
                    CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildContext*>(&c));
  if (q < 0) {
    WriteRecord(c.status_w, kInitError, 0, 0, -1, errno, "clone the program");
    _exit(1);
  }
  ::close(c.stdin_fd);
  ::close(c.out_w);
  ::close(c.err_w);
  if (c.json_w >= 0) ::close(c.json_w);
  if (plan.pass_fd >= 0) ::close(plan.pass_fd);  // only the program holds it now

  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, SIGUSR1);
  int q_status = 0;
  bool q_done = false;
  bool stop = false;
  auto reap = [&]() {
    for (;;) {
      int status;
      pid_t pid = ::waitpid(-1, &status, WNOHANG | __WALL);
      if (pid <= 0) return pid == 0 || errno != ECHILD;  // true: children remain
      if (pid == q) {
        q_status = status;
        q_done = true;
      }
    }
  };
  while (!q_done && !stop) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&wanted, &info);
    if (sig == SIGUSR1) stop = true;
    reap();
  }
  if (q_done && !stop) {
    // bwrap's outer process exits before its pid-1 init has finished; give the run's own
    // processes a moment to end by themselves, so that only real leftovers (daemons) count.
    int64_t grace_end = MonotonicMs() + 20;
    while (reap() && MonotonicMs() < grace_end) {
      struct timespec wait = {0, 2 * 1000 * 1000};
      ::sigtimedwait(&wanted, nullptr, &wait);
    }
  }
  int stragglers = CountProcs(plan.cgroup_procs.c_str());
  KillRun(c, q_done ? -1 : q);
  int64_t give_up = MonotonicMs() + 3000;
  const char* failure = "";
  int32_t failure_errno = 0;
  while (reap()) {
    if (MonotonicMs() > give_up) {
      failure = "processes of the run survived SIGKILL";
      failure_errno = ESRCH;
      break;
    }
    struct timespec wait = {0, 20 * 1000 * 1000};
    ::sigtimedwait(&wanted, nullptr, &wait);
    KillRun(c, q_done ? -1 : q);
  }
  WriteRecord(c.status_w, kFinal, q_status, q_done ? 1 : 0, stragglers, failure_errno, failure);
  _exit(0);
}

// ---- Supervisor side -----------------------------------------------------------------------

struct Pipe {
  int r = -1, w = -1;
  bool Open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    r = fds[0];
    w = fds[1];
    return true;
  }
  void Close() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
    r = w = -1;
  }
};

// Parses bwrap's --json-status-fd lines: `{ "child-pid": N, ... }` then `{ "exit-code": N }`.
void ParseBwrapStatus(const std::string& text, bool* child_started, int* exit_code) {
  if (absl::StrContains(text, "\"child-pid\"")) *child_started = true;
  size_t at = text.find("\"exit-code\"");
  if (at == std::string::npos) return;
  at = text.find(':', at);
  if (at == std::string::npos) return;
  size_t end = text.find_first_of(",}", at);
  int code;
  if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(at + 1, end - at - 1)), &code)) {
    *exit_code = code;
  }
}

}  // namespace

int MakeStdin(const std::string& data) {
  int fd = memfd_create("ponder-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += n;
  }
  ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

bool ReadCapped(int fd, std::string& sink, int64_t used_elsewhere, int64_t cap, bool* over) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      int64_t room = cap - used_elsewhere - static_cast<int64_t>(sink.size());
      if (room > 0) sink.append(buf, std::min<int64_t>(n, room));
      if (n > room) *over = true;
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EINTR;
  }
}

void KillEveryProcessOf(uid_t uid) {
  if (uid == 0) return;
  pid_t k = KillAsUid(uid);
  if (k > 0) {
    int status;
    while (::waitpid(k, &status, __WALL) < 0 && errno == EINTR) {
    }
  }
}

RunOutcome LaunchAndSupervise(const LaunchPlan& plan, const std::string& stdin_data,
                              absl::Duration wall, int64_t output_cap) {
  RunOutcome outcome;
  ChildContext c;
  c.plan = &plan;
  for (const auto& a : plan.argv) c.argv.push_back(const_cast<char*>(a.c_str()));
  c.argv.push_back(nullptr);
  for (const auto& e : plan.env) c.envp.push_back(const_cast<char*>(e.c_str()));
  c.envp.push_back(nullptr);
  std::vector<std::string> targets;
  targets.reserve(plan.mounts.size());
  for (const auto& op : plan.mounts) targets.push_back(plan.new_root + op.target);
  for (const auto& t : targets) c.mount_targets.push_back(t.c_str());
  c.supervisor_pid = ::getpid();

  Pipe out, err, status, json;
  bool bwrap = plan.mode == SandboxMode::kBubblewrap;
  c.stdin_fd = MakeStdin(stdin_data);
  if (c.stdin_fd < 0 || !out.Open() || !err.Open() || !status.Open() || (bwrap && !json.Open())) {
    outcome.sandbox_error = absl::StrCat("cannot create the run's pipes: ", std::strerror(errno));
    if (c.stdin_fd >= 0) ::close(c.stdin_fd);
    if (plan.pass_fd >= 0) ::close(plan.pass_fd);
    out.Close();
    err.Close();
    status.Close();
    json.Close();
    return outcome;
  }
  c.out_w = out.w;
  c.err_w = err.w;
  c.status_w = status.w;
  c.json_w = json.w;
  c.keep = {c.stdin_fd, c.out_w, c.err_w, c.status_w};
  if (bwrap) {
    c.keep.push_back(c.json_w);
    c.keep.push_back(plan.seccomp_memfd);
  }
  for (int fd : plan.cgroup_join_fds) c.keep.push_back(fd);
  if (plan.pass_fd >= 0) c.keep.push_back(plan.pass_fd);
  std::sort(c.keep.begin(), c.keep.end());

  unsigned long flags = 0;
  if (plan.mode == SandboxMode::kNamespaces) {
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  }
  // P starts with SIGCHLD and SIGUSR1 blocked, so that a stop request cannot arrive before
  // it is ready to take it.
  sigset_t block, saved;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &saved);
  absl::Time start = absl::Now();
  pid_t p = RawFork(flags);
  if (p == 0) RunInit(c);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (plan.pass_fd >= 0) ::close(plan.pass_fd);
  ::close(c.stdin_fd);
  ::close(out.w);
  ::close(err.w);
  ::close(status.w);
  if (json.w >= 0) ::close(json.w);
  if (p < 0) {
    outcome.sandbox_error =
        absl::StrCat("cannot start the run: clone: ", std::strerror(clone_errno));
    ::close(out.r);
    ::close(err.r);
    ::close(status.r);
    if (json.r >= 0) ::close(json.r);
    return outcome;
  }
  outcome.started = true;
  for (int fd : {out.r, err.r, json.r}) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  absl::Time deadline = start + wall;
  absl::Time give_up = absl::InfiniteFuture();  // set once a stop was requested
  bool stop_sent = false;
  bool final_seen = false;
  std::string status_bytes, json_text, child_error, init_error, exec_error;
  StatusRecord final_record{};
  auto request_stop = [&]() {
    if (stop_sent) return;
    stop_sent = true;
    ::kill(p, SIGUSR1);
    give_up = absl::Now() + absl::Seconds(5);
  };
  auto read_output = [&](int fd, std::string& sink) -> bool {  // false on EOF
    bool over = false;
    int64_t other = static_cast<int64_t>(outcome.out.size() + outcome.err.size() - sink.size());
    bool open = ReadCapped(fd, sink, other, output_cap, &over);
    if (over) {
      outcome.truncated = true;
      if (!stop_sent) outcome.killed_for_output = true;
      request_stop();
    }
    return open;
  };
  bool out_open = true, err_open = true, json_open = json.r >= 0, status_open = true;
  while (!final_seen) {
    absl::Time now = absl::Now();
    if (!stop_sent && now >= deadline) {
      outcome.killed_for_deadline = true;
      request_stop();
    }
    if (now >= give_up) {
      ::kill(p, SIGKILL);
      outcome.sandbox_error = "the run's init did not finish within 5 s of the stop request";
      break;
    }
    absl::Time until = stop_sent ? give_up : deadline;
    int timeout_ms =
        static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(until - now) + 1, 0, 1000));
    struct pollfd fds[4];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_status = -1, idx_json = -1;
    if (out_open) fds[idx_out = n++] = {out.r, POLLIN, 0};
    if (err_open) fds[idx_err = n++] = {err.r, POLLIN, 0};
    if (status_open) fds[idx_status = n++] = {status.r, POLLIN, 0};
    if (json_open) fds[idx_json = n++] = {json.r, POLLIN, 0};
    if (!status_open) {
      // P died without its final record.
      break;
    }
    int ready = ::poll(fds, n, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (idx_out >= 0 && fds[idx_out].revents) out_open = read_output(out.r, outcome.out);
    if (idx_err >= 0 && fds[idx_err].revents) err_open = read_output(err.r, outcome.err);
    if (idx_json >= 0 && fds[idx_json].revents) {
      char buf[4096];
      ssize_t got = ::read(json.r, buf, sizeof(buf));
      if (got > 0) {
        json_text.append(buf, got);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        json_open = false;
      }
    }
    if (idx_status >= 0 && fds[idx_status].revents) {
      char buf[sizeof(StatusRecord) * 4];
      ssize_t got = ::read(status.r, buf, sizeof(buf));
      if (got <= 0) {
        if (got == 0 || errno != EINTR) status_open = false;
        continue;
      }
      status_bytes.append(buf, got);
      while (status_bytes.size() >= sizeof(StatusRecord)) {
        StatusRecord r;
        std::memcpy(&r, status_bytes.data(), sizeof(r));
        status_bytes.erase(0, sizeof(r));
        if (r.magic != kMagic) continue;
        std::string step(r.step, strnlen(r.step, sizeof(r.step)));
        if (r.kind == kChildError && step == "exec" && !bwrap) {  // bwrap's own exec: ours
          exec_error = absl::StrCat(plan.argv[0], ": ", std::strerror(r.err));
        } else if (r.kind == kChildError) {
          child_error = absl::StrCat(step, ": ", std::strerror(r.err));
        } else if (r.kind == kInitError) {
          init_error = absl::StrCat(step, ": ", std::strerror(r.err));
        } else if (r.kind == kFinal) {
          final_record = r;
          final_seen = true;
          if (r.err != 0) init_error = step;
        }
      }
    }
  }
  outcome.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  // Everything of the run is gone: what is left in the pipes is all there is.
  if (out_open) read_output(out.r, outcome.out);
  if (err_open) read_output(err.r, outcome.err);
  if (json.r >= 0) {
    char buf[4096];
    ssize_t got;
    while ((got = ::read(json.r, buf, sizeof(buf))) > 0) json_text.append(buf, got);
  }
  // Reap P (it exits right after its final record).
  int p_status = 0;
  for (int i = 0; i < 2000; ++i) {
    pid_t r = ::waitpid(p, &p_status, WNOHANG | __WALL);
    if (r == p || (r < 0 && errno != EINTR)) break;
    if (i == 1000) ::kill(p, SIGKILL);
    ::usleep(1000);
  }
  for (int fd : {out.r, err.r, status.r, json.r}) {
    if (fd >= 0) ::close(fd);
  }

  if (final_seen) {
    outcome.exited = final_record.exited != 0;
    outcome.wait_status = final_record.wait_status;
    outcome.stragglers = final_record.stragglers;
  }
  bool bwrap_started = false;
  ParseBwrapStatus(json_text, &bwrap_started, &outcome.bwrap_exit_code);
  if (!exec_error.empty()) {
    outcome.exec_error = exec_error;
  } else if (!child_error.empty()) {
    outcome.sandbox_error = absl::StrCat("setting up the program failed at ", child_error);
  } else if (!init_error.empty()) {
    outcome.sandbox_error = absl::StrCat("the run's init failed: ", init_error);
  } else if (!final_seen && outcome.sandbox_error.empty()) {
    outcome.sandbox_error = "the run's init ended without reporting (killed?)";
  } else if (bwrap && outcome.bwrap_exit_code < 0 && !outcome.killed_for_deadline &&
             !outcome.killed_for_output && outcome.sandbox_error.empty()) {
    // bwrap's init reports the program's exit status, however it ended; without one, bwrap
    // itself failed (its message is on stderr), or the command could not be executed.
    std::string why(absl::StripAsciiWhitespace(outcome.err));
    if (absl::StartsWith(why, "bwrap: execvp ") && why.find('\n') == std::string::npos) {
      outcome.exec_error = why.substr(6);
    } else {
      outcome.sandbox_error =
          absl::StrCat("bwrap could not start the program", bwrap_started ? "" : " (no child)",
                       ": ", why.empty() ? "(no message)" : why.substr(0, 500));
    }
  }
  return outcome;
}

}  // namespace ponder::reward::internal
