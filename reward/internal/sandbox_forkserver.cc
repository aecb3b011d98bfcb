#include "reward/internal/sandbox_forkserver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "reward/internal/sandbox_workdir.h"

namespace ponder::reward::internal {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kMarker = "ponder-fork-server";  // sys.argv[1] of the server
constexpr int kSetupFailed = 125;
constexpr const char* kSetupFailedPrefix = "ponder fork server: ";

// The server. sys.argv[2:] are the modules to import first.
constexpr const char* kServerSource = R"PY(
import os, sys
sys.dont_write_bytecode = True
import ctypes, json, resource, socket, types
from importlib.machinery import SourceFileLoader

_libc = ctypes.CDLL(None, use_errno=True)
# Runs share our uid: non-dumpable, they cannot open our /proc/PID/mem or fds.
if _libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
    sys.exit("ponder fork server: prctl(PR_SET_DUMPABLE) failed")
for _name in sys.argv[2:]:
    try:
        __import__(_name)
    except ImportError:
        pass
_ctl = socket.socket(fileno=6)

# Warm up what runs start with (the parser's first use above all): done here once, not in
# every run, where first uses also cost copy-on-write faults. Then exempt everything made so
# far from garbage collection, which would otherwise touch (copy) it in each run.
exec(compile('''
class _C:
    def __init__(self, xs): self.xs = list(xs)
def _f(xs, k=2):
    out = sorted({x % 7: x for x in xs if x > 0}.items())
    try:
        assert _C(out).xs == out, "same"
        return [f"{a}-{b!r}" for a, b in out][:k] + str(xs).split(",")
    except (KeyError, ValueError) as e:
        raise RuntimeError("unreachable") from e
_f(range(-3, 30))
''', "<warm-up>", "exec", dont_inherit=True), {})
import gc
gc.collect()
gc.freeze()


def _exit_code(e):  # what the interpreter makes of SystemExit
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:
        pass
    return 1


def _run(req):
    argv = req["argv"]
    path = os.path.abspath(argv[0])
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(path))
    if req["site"]:
        import site
        site.main()
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None
    main.__loader__ = SourceFileLoader("__main__", path)
    sys.modules["__main__"] = main
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n"
                         % (sys.executable, path, e.errno, e.strerror))
        return 2
    try:
        exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as e:
        return _exit_code(e)
    except BaseException:
        t, v, tb = sys.exc_info()
        try:
            v.__traceback__ = tb = tb.tb_next  # from the script's first frame on
            sys.excepthook(t, v, tb)
        except BaseException:
            pass
        return -2 if issubclass(t, KeyboardInterrupt) else 1
    return 0


def _finish(code):  # the interpreter's shutdown: threads, atexit, flushing; -2: SIGINT
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            if code == 0 and stream is sys.stdout:
                code = 120
    if code == -2:  # an uncaught KeyboardInterrupt ends the interpreter by SIGINT
        import signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    os._exit(code)


def _child(req, fds):
    try:
        _ctl.close()
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 1 << 20)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        os.environ["PWD"] = req["cwd"]  # as bwrap's --chdir sets it
        for res, soft, hard in req["rlimits"]:
            resource.setrlimit(res, (soft, hard))
        _libc.prctl(4, 1, 0, 0, 0)
        random = sys.modules.get("random")
        if random is not None:
            random.seed()
    except BaseException as e:
        try:
            os.write(2, ("ponder fork server: cannot set up the run: %r\n" % (e,)).encode())
        finally:
            os._exit(125)
    _finish(_run(req))


os.chdir("/")
_ctl.send(b"ready")
while True:
    try:
        msg, fds, _flags, _addr = socket.recv_fds(_ctl, 1 << 16, 3)
    except OSError:
        break
    if not msg:
        break
    try:
        req = json.loads(msg)
        pid = os.fork()
    except BaseException as e:
        for fd in fds:
            os.close(fd)
        _ctl.send(("fail %r" % (e,)).encode())
        continue
    if pid == 0:
        _child(req, fds)
    for fd in fds:
        os.close(fd)
    _pid, status = os.waitpid(pid, 0)
    _ctl.send(b"exit %d" % status)
)PY";

int64_t LimitValue(rlim_t v) { return v == RLIM_INFINITY ? -1 : static_cast<int64_t>(v); }

}  // namespace

const std::vector<std::string>& ForkServerPreloads() {
  // The standard-library modules that tests and solutions import most (HumanEval, MBPP).
  static const std::vector<std::string>* const kModules = new std::vector<std::string>{
      "re",     "math",   "collections", "itertools", "functools", "heapq",     "bisect",
      "string", "typing", "operator",    "copy",      "random",    "fractions", "decimal"};
  return *kModules;
}

std::optional<ForkRequest> ForkRequestFor(const SandboxCommand& command,
                                          const std::vector<std::string>& base_env) {
  const std::vector<std::string>& a = command.argv;
  if (a.empty() || a[0] != kPython) return std::nullopt;
  ForkRequest request;
  size_t i = 1;
  for (; i < a.size() && (a[i] == "-S" || a[i] == "-B"); ++i) {
    if (a[i] == "-S") request.site = false;
  }
  if (i >= a.size() || a[i].empty() || a[i][0] == '-') return std::nullopt;
  for (const std::string& e : command.env) {
    // The interpreter reads these at start-up, which a forked run has passed.
    if (absl::StartsWith(e, "PYTHON") && !absl::StartsWith(e, "PYTHONDONTWRITEBYTECODE=")) {
      return std::nullopt;
    }
  }
  request.argv.assign(a.begin() + i, a.end());
  request.env = base_env;
  request.env.insert(request.env.end(), command.env.begin(), command.env.end());
  return request;
}

absl::StatusOr<std::unique_ptr<PythonForkServer>> PythonForkServer::Start(LaunchPlan plan,
                                                                          SlotCgroup* cgroup) {
  std::unique_ptr<PythonForkServer> server(new PythonForkServer());
  server->cgroup_ = cgroup;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(absl::StrCat("fork server: socketpair: ", std::strerror(errno)));
  }
  server->ctl_ = sv[0];
  plan.pass_fd = sv[1];
  for (const char* arg : {kPython, "-S", "-I", "-B", "-c", kServerSource, kMarker}) {
    plan.argv.push_back(arg);
  }
  for (const std::string& module : ForkServerPreloads()) plan.argv.push_back(module);

  PythonForkServer* self = server.get();
  server->supervisor_ = std::thread([self, plan = std::move(plan)] {
    // The server's own stdout and stderr stay small: runs have their own descriptors.
    RunOutcome outcome = LaunchAndSupervise(plan, "", absl::Hours(24 * 365), 64 << 10);
    self->ended_outcome_ = std::move(outcome);
    self->ended_.store(true);
  });
  std::optional<std::string> hello = server->Receive(absl::Seconds(20));
  if (!hello || *hello != "ready") {
    server->Stop();  // joins the supervisor thread, so that its outcome can be read
    const RunOutcome& ended = server->ended_outcome_;
    std::string said(absl::StripAsciiWhitespace(ended.err.substr(0, 500)));
    if (!ended.sandbox_error.empty()) said = absl::StrCat(ended.sandbox_error, " ", said);
    return absl::UnavailableError(
        absl::StrCat("the Python fork server did not start: ",
                     !hello ? "it did not report ready within 20 s" : "it ended at start-up",
                     said.empty() ? "" : ": ", said));
  }
  server->keep_ = cgroup->Processes();
  for (int pid : server->keep_) {
    absl::StatusOr<std::string> cmdline = ReadSmallFile(absl::StrCat("/proc/", pid, "/cmdline"));
    if (cmdline.ok() && absl::StartsWith(*cmdline, std::string(kPython) + '\0')) {
      server->interpreter_pid_ = pid;
    }
  }
  if (server->interpreter_pid_ < 0) {
    return absl::InternalError(
        absl::StrCat("the Python fork server started but its interpreter is not among the ",
                     server->keep_.size(), " processes of its cgroup"));
  }
  // Its parent, bwrap's init, reaps what a run leaves (orphans are reparented to it).
  absl::StatusOr<std::string> status =
      ReadSmallFile(absl::StrCat("/proc/", server->interpreter_pid_, "/status"));
  size_t at = status.ok() ? status->find("\nPPid:\t") : std::string::npos;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(status->substr(at + 7, status->find('\n', at + 7) - at - 7),
                        &server->init_pid_)) {
    return absl::InternalError("the Python fork server's parent process is unknown");
  }
  return server;
}

PythonForkServer::~PythonForkServer() { Stop(); }

void PythonForkServer::Stop() {
  if (ctl_ >= 0) ::close(ctl_);  // the server exits at end of file
  ctl_ = -1;
  if (cgroup_ != nullptr) cgroup_->KillAll(absl::Seconds(2));
  if (supervisor_.joinable()) supervisor_.join();
}

std::optional<std::string> PythonForkServer::Receive(absl::Duration wait) {
  absl::Time until = absl::Now() + wait;
  for (;;) {
    if (ended_.load()) return std::string();
    int64_t ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(until - absl::Now()), 0, 200);
    struct pollfd p = {ctl_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(ms));
    if (ready > 0) {
      char buf[4096];
      ssize_t n = ::recv(ctl_, buf, sizeof(buf), 0);
      if (n > 0) return std::string(buf, n);
      if (n == 0 || (errno != EINTR && errno != EAGAIN)) return std::string();
    }
    if (absl::Now() >= until) return std::nullopt;
  }
}

bool PythonForkServer::Send(const ForkRequest& request, int stdin_fd, int out_w, int err_w,
                            std::string* why) {
  nlohmann::json env = nlohmann::json::object();
  for (const std::string& e : request.env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& l : request.rlimits) {
    limits.push_back({l.resource, LimitValue(l.soft), LimitValue(l.hard)});
  }
  std::string payload;
  try {
    payload = nlohmann::json{
        {"argv", request.argv},
        {"site", request.site},
        {"cwd", request.cwd},
        {"env", env},
        {"rlimits",
         limits}}.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. an argument that is not UTF-8
    *why = absl::StrCat("the request cannot be encoded: ", e.what());
    return false;
  }
  if (payload.size() > 60000) {
    *why = absl::StrCat("the request is too large for the server (", payload.size(), " bytes)");
    return false;
  }
  int fds[3] = {stdin_fd, out_w, err_w};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(fds))];
  std::memset(control, 0, sizeof(control));
  struct iovec iov = {payload.data(), payload.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
  ssize_t n;
  do {
    n = ::sendmsg(ctl_, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(payload.size())) {
    *why = absl::StrCat("cannot send the request: ", n < 0 ? std::strerror(errno) : "short write");
    return false;
  }
  return true;
}

bool PythonForkServer::Reaped(absl::Duration wait) const {
  // Killed processes leave the cgroup at once but stay zombies, counted by the slot uid's
  // RLIMIT_NPROC, until bwrap's init reaps them: done when the server is its only child.
  std::string only = absl::StrCat(interpreter_pid_, " ");
  std::string children = absl::StrCat("/proc/", init_pid_, "/task/", init_pid_, "/children");
  absl::Time until = absl::Now() + wait;
  for (int round = 0;; ++round) {
    absl::StatusOr<std::string> text = ReadSmallFile(children);
    if (!text.ok()) return false;
    if (*text == only) return true;
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(round < 10 ? 1 : 10));
  }
}

bool PythonForkServer::ServerStopped() const {
  absl::StatusOr<std::string> stat =
      ReadSmallFile(absl::StrCat("/proc/", interpreter_pid_, "/stat"));
  if (!stat.ok()) return true;  // gone
  size_t at = stat->rfind(") ");
  return at != std::string::npos && at + 2 < stat->size() &&
         (stat->at(at + 2) == 'T' || stat->at(at + 2) == 't');
}

void PythonForkServer::ClearScratch() {
  for (const char* dir : {"/tmp", "/dev/shm"}) {
    RemoveContents(absl::StrCat("/proc/", interpreter_pid_, "/root", dir));
  }
}

std::optional<RunOutcome> PythonForkServer::Run(const ForkRequest& request,
                                                const std::string& stdin_data, absl::Duration wall,
                                                int64_t output_cap, std::string* why) {
  if (ended_.load()) {
    *why = "the server had ended";
    return std::nullopt;
  }
  int in = MakeStdin(stdin_data);
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (in < 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    *why = absl::StrCat("cannot create the run's pipes: ", std::strerror(errno));
    for (int fd : {in, out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return std::nullopt;
  }
  bool sent = Send(request, in, out[1], err[1], why);
  for (int fd : {in, out[1], err[1]}) ::close(fd);
  auto close_reads = [&] {
    ::close(out[0]);
    ::close(err[0]);
  };
  if (!sent) {
    close_reads();
    return std::nullopt;
  }
  for (int fd : {out[0], err[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  RunOutcome o;
  o.started = true;
  absl::Time start = absl::Now();
  absl::Time deadline = start + wall;
  absl::Time give_up = absl::InfiniteFuture();
  bool killing = false;
  std::optional<int> status;
  bool out_open = true, err_open = true;
  auto kill_run = [&] {
    if (!killing) give_up = absl::Now() + absl::Seconds(3);
    killing = true;
    cgroup_->KillAll(absl::ZeroDuration(), keep_);  // one pass; repeated while waiting
  };
  auto read = [&](int fd, std::string& sink) {
    bool over = false;
    bool open =
        ReadCapped(fd, sink, static_cast<int64_t>(o.out.size() + o.err.size() - sink.size()),
                   output_cap, &over);
    if (over) {
      o.truncated = true;
      if (!killing) {
        o.killed_for_output = true;
        kill_run();
      }
    }
    return open;
  };
  // Waits up to `timeout_ms` for output (read within the cap) and, with `with_ctl`, for a
  // message from the server (`*ctl_ready`). False when poll itself failed.
  auto poll_outputs = [&](int timeout_ms, bool with_ctl, bool* ctl_ready) {
    struct pollfd fds[3];
    int n = 0, idx_out = -1, idx_err = -1, idx_ctl = -1;
    if (out_open) fds[idx_out = n++] = {out[0], POLLIN, 0};
    if (err_open) fds[idx_err = n++] = {err[0], POLLIN, 0};
    if (with_ctl) fds[idx_ctl = n++] = {ctl_, POLLIN, 0};
    *ctl_ready = false;
    int ready = ::poll(fds, n, timeout_ms);
    if (ready < 0) return errno == EINTR;
    if (idx_out >= 0 && fds[idx_out].revents) out_open = read(out[0], o.out);
    if (idx_err >= 0 && fds[idx_err].revents) err_open = read(err[0], o.err);
    *ctl_ready = idx_ctl >= 0 && fds[idx_ctl].revents;
    return true;
  };
  while (!status) {
    absl::Time now = absl::Now();
    if (!killing && now >= deadline) {
      o.killed_for_deadline = true;
      kill_run();
    } else if (killing) {
      if (now >= give_up) {
        *why = "the server did not report the end of a run it was told to stop";
        close_reads();
        return std::nullopt;
      }
      kill_run();
    }
    if (!out_open && !err_open && !killing && ServerStopped()) {
      // The run's descriptors are closed and the server cannot report: someone stopped it.
      *why = "the server was stopped";
      close_reads();
      return std::nullopt;
    }
    absl::Time until =
        killing || (!out_open && !err_open) ? now + absl::Milliseconds(20) : deadline;
    int timeout_ms =
        static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(until - now) + 1, 0, 1000));
    bool ctl_ready = false;
    if (!poll_outputs(timeout_ms, /*with_ctl=*/true, &ctl_ready)) {
      *why = absl::StrCat("poll: ", std::strerror(errno));
      close_reads();
      return std::nullopt;
    }
    if (ctl_ready) {
      std::optional<std::string> msg = Receive(absl::ZeroDuration());
      if (!msg) continue;
      int value;
      if (absl::StartsWith(*msg, "exit ") && absl::SimpleAtoi(msg->substr(5), &value)) {
        status = value;
      } else {
        *why = msg->empty() ? "the server died during a run"
                            : absl::StrCat("the server could not start the run: ", *msg);
        close_reads();
        return std::nullopt;
      }
    }
  }
  o.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  o.stragglers = static_cast<int>(cgroup_->Processes(keep_).size());
  if (!cgroup_->KillAll(absl::Seconds(2), keep_) || !Reaped(absl::Seconds(2))) {
    *why = "processes of the run survived SIGKILL or were not reaped";
    close_reads();
    return std::nullopt;
  }
  // Every writer is gone: read to the end.
  absl::Time drain_until = absl::Now() + absl::Seconds(1);
  bool unused;
  while ((out_open || err_open) && absl::Now() < drain_until &&
         poll_outputs(100, /*with_ctl=*/false, &unused)) {
  }
  close_reads();
  o.exited = true;
  o.wait_status = *status;
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == kSetupFailed &&
      absl::StartsWith(o.err, kSetupFailedPrefix)) {
    *why = std::string(absl::StripTrailingAsciiWhitespace(o.err.substr(0, 300)));
    return std::nullopt;
  }
  ClearScratch();
  return o;
}

}  // namespace ponder::reward::internal
