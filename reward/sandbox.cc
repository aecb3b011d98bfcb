#include "reward/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "base/status.h"
#include "reward/internal/sandbox_cgroup.h"
#include "reward/internal/sandbox_forkserver.h"
#include "reward/internal/sandbox_launch.h"
#include "reward/internal/sandbox_seccomp.h"
#include "reward/internal/sandbox_verdict.h"
#include "reward/internal/sandbox_workdir.h"
#include "spdlog/spdlog.h"

namespace ponder::reward {

using internal::LaunchPlan;
using internal::MountOp;

const char* SandboxModeName(SandboxMode mode) {
  switch (mode) {
    case SandboxMode::kBubblewrap:
      return "bwrap";
    case SandboxMode::kNamespaces:
      return "namespaces";
    case SandboxMode::kPlain:
      return "plain";
  }
  return "?";
}

const char* CgroupLayoutName(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::kNone:
      return "none";
    case CgroupLayout::kV1:
      return "v1";
    case CgroupLayout::kHybrid:
      return "hybrid";
    case CgroupLayout::kV2:
      return "v2";
  }
  return "?";
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kRuntimeError:
      return "runtime_error";
    case Verdict::kWallTimeout:
      return "wall_timeout";
    case Verdict::kCpuTimeout:
      return "cpu_timeout";
    case Verdict::kMemoryLimit:
      return "memory_limit";
    case Verdict::kOutputLimit:
      return "output_limit";
    case Verdict::kFileSizeLimit:
      return "file_size_limit";
    case Verdict::kSandboxError:
      return "sandbox_error";
  }
  return "?";
}

// ---- Options ---------------------------------------------------------------------------------

void SandboxLimits::Bind(config::Binder& b) {
  b.Field("wall_s", wall_s).GreaterThan(0.0).AtMost(3600.0);
  b.Field("cpu_s", cpu_s).AtLeast(0.0).AtMost(3600.0);
  b.Field("memory_mb", memory_mb).AtLeast(16);
  b.Field("address_space_mb", address_space_mb).AtLeast(0);
  b.Field("processes", processes).AtLeast(1).AtMost(100000);
  b.Field("output_kb", output_kb).AtLeast(1).AtMost(1 << 20);
  b.Field("file_size_mb", file_size_mb).AtLeast(1);
  b.Field("stack_mb", stack_mb).AtLeast(1);
  b.Field("open_files", open_files).AtLeast(16).AtMost(1 << 20);
  b.Field("cpus", cpus).AtLeast(0.0);
}

absl::Status SandboxLimits::Validate() const {
  auto bad = [](const char* field, const std::string& rule, auto value) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox limit ", field, " must be ", rule, " (got ", value, ")"));
  };
  if (!(wall_s > 0 && wall_s <= 3600)) return bad("wall_s", "in (0, 3600]", wall_s);
  if (!(cpu_s >= 0 && cpu_s <= 3600)) return bad("cpu_s", "in [0, 3600]", cpu_s);
  if (memory_mb < 16) return bad("memory_mb", ">= 16", memory_mb);
  if (address_space_mb < 0) return bad("address_space_mb", ">= 0", address_space_mb);
  if (processes < 1 || processes > 100000) return bad("processes", "in [1, 100000]", processes);
  if (output_kb < 1 || output_kb > (1 << 20)) return bad("output_kb", "in [1, 1048576]", output_kb);
  if (file_size_mb < 1) return bad("file_size_mb", ">= 1", file_size_mb);
  if (stack_mb < 1) return bad("stack_mb", ">= 1", stack_mb);
  if (open_files < 16 || open_files > (1 << 20)) {
    return bad("open_files", "in [16, 1048576]", open_files);
  }
  if (!(cpus >= 0)) return bad("cpus", ">= 0", cpus);
  return absl::OkStatus();
}

void SandboxOptions::Bind(config::Binder& b) {
  b.Field("mode", mode)
      .Must(mode == "auto" || mode == "bwrap" || mode == "namespaces" || mode == "plain",
            "be one of auto, bwrap, namespaces, plain");
  b.Field("slots", slots).AtLeast(0).AtMost(1024);
  b.Field("bwrap_path", bwrap_path);
  b.Field("uid_base", uid_base).AtLeast(1).AtMost(4000000000LL);
  b.Field("uid_count", uid_count).AtLeast(1);
  b.Field("state_dir", state_dir).NotEmpty();
  b.Field("cgroup_root", cgroup_root).NotEmpty();
  b.Field("cgroups", cgroups)
      .Must(cgroups == "auto" || cgroups == "required" || cgroups == "off",
            "be one of auto, required, off");
  b.Field("work_dir_mb", work_dir_mb).AtLeast(1);
  b.Field("tmp_mb", tmp_mb).AtLeast(1);
  b.Field("shm_mb", shm_mb).AtLeast(1);
  b.Field("read_only_paths", read_only_paths);
  b.Field("allow_degraded", allow_degraded);
  b.Field("python_fork_server", python_fork_server);
}

absl::Status SandboxOptions::Validate() const {
  if (uid_base <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("sandbox uid_base must be > 0 (got ", uid_base,
                                                   "): untrusted code never runs as root"));
  }
  if (uid_count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox uid_count must be >= 1 (got ", uid_count, ")"));
  }
  for (const auto& path : read_only_paths) {
    if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox read_only_paths entries must be absolute paths without '..' (got '",
                       path, "')"));
    }
  }
  if (mode != "auto" && mode != "bwrap" && mode != "namespaces" && mode != "plain") {
    return absl::InvalidArgumentError(absl::StrCat(
        "sandbox mode must be one of auto, bwrap, namespaces, plain (got '", mode, "')"));
  }
  if (cgroups != "auto" && cgroups != "required" && cgroups != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox cgroups must be one of auto, required, off (got '", cgroups, "')"));
  }
  return absl::OkStatus();
}

// ---- The pool --------------------------------------------------------------------------------

namespace {

struct Slot {
  int index = 0;
  uid_t uid = 0;
  internal::UidLease lease;
  std::string work_dir;  // host path of /box
  std::string root_dir;  // namespaces mode: where the minimal root is built
  std::unique_ptr<internal::SlotCgroup> cgroup;
  int seccomp_memfd = -1;
  bool busy = false;
  bool work_ready = false;
  // The Python fork server (bwrap mode): its own cgroup, and the server while it is healthy.
  std::unique_ptr<internal::SlotCgroup> server_cgroup;
  std::unique_ptr<internal::PythonForkServer> server;
  int server_failures = 0;  // starts or runs that failed in a row
};

// A slot stops restarting its server after this many failures in a row.
constexpr int kMaxServerFailures = 3;

// What the verdict needs besides the outcome: the limits, and the cgroup's CPU time and OOM
// kills during the run (unknown, -1, without a cgroup).
internal::VerdictFacts FactsFor(const SandboxLimits& limits, bool exit_status_from_bwrap,
                                const internal::CgroupUsage& before,
                                const internal::CgroupUsage& after) {
  internal::VerdictFacts facts;
  facts.exit_status_from_bwrap = exit_status_from_bwrap;
  facts.cpu_limit_s = std::ceil(limits.cpu_s > 0 ? limits.cpu_s : limits.wall_s);
  facts.output_cap = limits.output_kb << 10;
  if (before.cpu_s >= 0 && after.cpu_s >= 0) facts.cpu_used_s = after.cpu_s - before.cpu_s;
  if (before.oom_kills >= 0 && after.oom_kills >= 0) {
    facts.oom_kills = after.oom_kills - before.oom_kills;
  }
  return facts;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

struct CodeSandbox::Impl {
  SandboxOptions options;
  SandboxMode mode = SandboxMode::kBubblewrap;
  CgroupLayout layout = CgroupLayout::kNone;
  bool root = false;
  bool degraded = false;
  std::string cgroup_description;
  std::vector<std::string> notes;  // why better modes or layers were not used
  std::optional<internal::SeccompFilter> filter;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<std::string> base_env;
  bool fork_server = false;  // slots run Python through their fork servers

  absl::Mutex mu;
  int free_slots ABSL_GUARDED_BY(mu) = 0;

  ~Impl() {
    for (auto& slot : slots) {
      slot->server.reset();
      slot->server_cgroup.reset();
      if (root) internal::RemoveMounts(slot->work_dir);
      slot->cgroup.reset();
      if (slot->seccomp_memfd >= 0) ::close(slot->seccomp_memfd);
      if (root) internal::KillEveryProcessOf(slot->uid);
    }
  }

  absl::Status PrepareWork(Slot& slot) {
    PONDER_RETURN_IF_ERROR(
        internal::PrepareWorkDir(slot.work_dir, root, slot.uid, options.work_dir_mb << 20));
    slot.work_ready = true;
    return absl::OkStatus();
  }

  std::vector<LaunchPlan::Limit> Rlimits(const SandboxLimits& limits) const;
  LaunchPlan MakePlan(const Slot& slot, const SandboxCommand& command) const;
  SandboxResult RunInSlot(Slot& slot, const SandboxCommand& command);
  // Starts the slot's fork server; the slot must have no session mounted (see
  // sandbox_forkserver.h).
  absl::Status StartServer(Slot& slot);
  // Runs `command` in the slot's fork server; nullopt when it cannot or the server failed.
  std::optional<SandboxResult> RunInServer(Slot& slot, const SandboxCommand& command);
};

absl::Status CodeSandbox::Impl::StartServer(Slot& slot) {
  slot.server.reset();
  SandboxCommand command;  // the interpreter is appended by Start
  command.limits.memory_mb = 512;
  command.limits.processes = 64;
  PONDER_RETURN_IF_ERROR(
      slot.server_cgroup->Apply({command.limits.memory_mb << 20, command.limits.processes, 1.0}));
  LaunchPlan plan = MakePlan(slot, command);
  // The server's own limits: none that add up over its lifetime (CPU time) or that a run may
  // need to set higher; each run sets all of its rlimits itself.
  plan.rlimits = {{RLIMIT_CORE, 0, 0}, {RLIMIT_MEMLOCK, 0, 0}, {RLIMIT_MSGQUEUE, 0, 0}};
  plan.cgroup_join_fds = slot.server_cgroup->join_fds();
  plan.cgroup_procs = slot.server_cgroup->procs_path();
  plan.cgroup_kill = slot.server_cgroup->kill_path();
  absl::StatusOr<std::unique_ptr<internal::PythonForkServer>> server =
      internal::PythonForkServer::Start(std::move(plan), slot.server_cgroup.get());
  if (!server.ok()) {
    ++slot.server_failures;
    return server.status();
  }
  slot.server = std::move(*server);
  return absl::OkStatus();
}

std::optional<SandboxResult> CodeSandbox::Impl::RunInServer(Slot& slot,
                                                            const SandboxCommand& command) {
  if (!slot.server) return std::nullopt;
  std::optional<internal::ForkRequest> request = internal::ForkRequestFor(command, base_env);
  if (!request) return std::nullopt;
  const SandboxLimits& limits = command.limits;
  request->rlimits = Rlimits(limits);
  internal::SlotCgroup& cgroup = *slot.server_cgroup;
  if (!cgroup.Apply({limits.memory_mb << 20, limits.processes, limits.cpus}).ok()) {
    return std::nullopt;
  }
  internal::CgroupUsage before = cgroup.ReadUsage();
  std::string why;
  std::optional<internal::RunOutcome> outcome = slot.server->Run(
      *request, command.stdin_data, absl::Milliseconds(std::llround(limits.wall_s * 1000)),
      limits.output_kb << 10, &why);
  if (!outcome) {
    spdlog::warn(
        "code sandbox: slot {}: the Python fork server failed ({}); running the command "
        "the ordinary way and starting a new server",
        slot.index, why);
    slot.server.reset();
    ++slot.server_failures;
    return std::nullopt;
  }
  slot.server_failures = 0;
  internal::VerdictFacts facts =
      FactsFor(limits, /*exit_status_from_bwrap=*/false, before, cgroup.ReadUsage());
  SandboxResult result = internal::Classify(std::move(*outcome), facts, command);
  result.fork_server = true;
  return result;
}

std::vector<LaunchPlan::Limit> CodeSandbox::Impl::Rlimits(const SandboxLimits& limits) const {
  rlim_t cpu = static_cast<rlim_t>(std::ceil(limits.cpu_s > 0 ? limits.cpu_s : limits.wall_s));
  auto mib = [](int64_t v) { return static_cast<rlim_t>(v) << 20; };
  std::vector<LaunchPlan::Limit> rlimits = {
      {RLIMIT_CPU, cpu, cpu + 1},
      {RLIMIT_FSIZE, mib(limits.file_size_mb), mib(limits.file_size_mb)},
      {RLIMIT_NOFILE, static_cast<rlim_t>(limits.open_files),
       static_cast<rlim_t>(limits.open_files)},
      {RLIMIT_STACK, mib(limits.stack_mb), mib(limits.stack_mb)},
      {RLIMIT_CORE, 0, 0},
      {RLIMIT_MEMLOCK, 0, 0},
      {RLIMIT_MSGQUEUE, 0, 0},
  };
  if (limits.address_space_mb > 0) {
    rlimits.push_back({RLIMIT_AS, mib(limits.address_space_mb), mib(limits.address_space_mb)});
  }
  // RLIMIT_NPROC counts every process of the real uid on the host: meaningful only for a
  // uid of our own (root drops to the slot uid).
  if (root) {
    rlimits.push_back({RLIMIT_NPROC, static_cast<rlim_t>(limits.processes),
                       static_cast<rlim_t>(limits.processes)});
  }
  return rlimits;
}

LaunchPlan CodeSandbox::Impl::MakePlan(const Slot& slot, const SandboxCommand& command) const {
  const SandboxLimits& limits = command.limits;
  LaunchPlan plan;
  plan.mode = mode;
  plan.drop_uid = root;
  plan.uid = slot.uid;
  plan.gid = slot.uid;
  plan.env = base_env;
  for (const auto& e : command.env) plan.env.push_back(e);

  plan.rlimits = Rlimits(limits);
  if (slot.cgroup) {
    plan.cgroup_join_fds = slot.cgroup->join_fds();
    plan.cgroup_procs = slot.cgroup->procs_path();
    plan.cgroup_kill = slot.cgroup->kill_path();
  }
  plan.kill_by_uid = mode == SandboxMode::kPlain && root && plan.cgroup_kill.empty();

  std::vector<std::string> system_ro;
  for (const char* path : {"/etc/ld.so.cache", "/etc/alternatives"}) {
    if (PathExists(path)) system_ro.push_back(path);
  }
  std::vector<std::string> usr_links;
  for (const char* dir : {"bin", "lib", "lib32", "lib64", "libx32", "sbin"}) {
    if (PathExists(absl::StrCat("/usr/", dir))) usr_links.push_back(dir);
  }
  std::string tmp_size = std::to_string(options.tmp_mb << 20);
  std::string shm_size = std::to_string(options.shm_mb << 20);

  switch (mode) {
    case SandboxMode::kBubblewrap: {
      plan.seccomp_memfd = slot.seccomp_memfd;
      plan.argv = {options.bwrap_path,
                   "--unshare-all",
                   "--unshare-user",
                   "--disable-userns",
                   "--die-with-parent",
                   "--new-session",
                   "--hostname",
                   "sandbox",
                   "--ro-bind",
                   "/usr",
                   "/usr"};
      for (const auto& dir : usr_links) {
        plan.argv.insert(plan.argv.end(), {"--symlink", absl::StrCat("usr/", dir), "/" + dir});
      }
      for (const auto& path : system_ro)
        plan.argv.insert(plan.argv.end(), {"--ro-bind", path, path});
      for (const auto& path : options.read_only_paths) {
        plan.argv.insert(plan.argv.end(), {"--ro-bind", path, path});
      }
      plan.argv.insert(plan.argv.end(),
                       {"--proc",  "/proc",   "--dev",     "/dev",        "--size",
                        shm_size,  "--tmpfs", "/dev/shm",  "--size",      tmp_size,
                        "--tmpfs", "/tmp",    "--bind",    slot.work_dir, "/box",
                        "--chdir", "/box",    "--seccomp", "3",           "--json-status-fd",
                        "4",       "--"});
      plan.chdir_to = "/";
      break;
    }
    case SandboxMode::kNamespaces: {
      plan.seccomp_program = filter->program();
      plan.new_root = slot.root_dir;
      plan.chdir_to = "/box";
      auto& m = plan.mounts;
      m.push_back({MountOp::kBindReadOnly, "/usr", "/usr"});
      for (const auto& dir : usr_links) {
        m.push_back({MountOp::kSymlink, absl::StrCat("usr/", dir), "/" + dir});
      }
      m.push_back({MountOp::kMkdir, "", "/etc"});
      auto add_parents = [&](const std::string& path) {
        for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
          m.push_back({MountOp::kMkdir, "", path.substr(0, at)});
        }
      };
      for (const auto& path : system_ro) m.push_back({MountOp::kBindReadOnly, path, path});
      for (const auto& path : options.read_only_paths) {
        add_parents(path);
        m.push_back({MountOp::kBindReadOnly, path, path});
      }
      m.push_back({MountOp::kProc, "", "/proc"});
      m.push_back({MountOp::kTmpfs, "mode=0755,size=65536", "/dev"});
      for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty"}) {
        std::string path = absl::StrCat("/dev/", dev);
        m.push_back({MountOp::kBindDevice, path, path});
      }
      m.push_back({MountOp::kSymlink, "/proc/self/fd", "/dev/fd"});
      m.push_back({MountOp::kSymlink, "/proc/self/fd/0", "/dev/stdin"});
      m.push_back({MountOp::kSymlink, "/proc/self/fd/1", "/dev/stdout"});
      m.push_back({MountOp::kSymlink, "/proc/self/fd/2", "/dev/stderr"});
      m.push_back({MountOp::kTmpfs, absl::StrCat("mode=1777,size=", shm_size), "/dev/shm"});
      m.push_back({MountOp::kTmpfs, absl::StrCat("mode=1777,size=", tmp_size), "/tmp"});
      m.push_back({MountOp::kBindReadWrite, slot.work_dir, "/box"});
      break;
    }
    case SandboxMode::kPlain:
      plan.seccomp_program = filter->program();
      plan.chdir_to = slot.work_dir;
      break;
  }
  for (const auto& arg : command.argv) plan.argv.push_back(arg);
  return plan;
}

SandboxResult CodeSandbox::Impl::RunInSlot(Slot& slot, const SandboxCommand& command) {
  if (std::optional<SandboxResult> served = RunInServer(slot, command)) return *served;
  const SandboxLimits& limits = command.limits;
  internal::CgroupUsage before;
  if (slot.cgroup) {
    absl::Status applied =
        slot.cgroup->Apply({limits.memory_mb << 20, limits.processes, limits.cpus});
    if (!applied.ok()) {
      SandboxResult r;
      r.verdict = Verdict::kSandboxError;
      r.message = absl::StrCat("cannot set the slot's cgroup limits: ", applied.message());
      return r;
    }
    before = slot.cgroup->ReadUsage();
  }
  LaunchPlan plan = MakePlan(slot, command);
  internal::RunOutcome outcome = internal::LaunchAndSupervise(
      plan, command.stdin_data, absl::Milliseconds(std::llround(limits.wall_s * 1000)),
      limits.output_kb << 10);

  internal::VerdictFacts facts =
      FactsFor(limits, mode == SandboxMode::kBubblewrap, before,
               slot.cgroup ? slot.cgroup->ReadUsage() : internal::CgroupUsage{});
  if (slot.cgroup) {
    // The init reaped every process it knew of; anything still in the slot escaped it.
    if (!slot.cgroup->KillAll(absl::Seconds(1)) && outcome.sandbox_error.empty()) {
      outcome.sandbox_error = "processes of the run survived the cleanup";
    }
  }
  return internal::Classify(std::move(outcome), facts, command);
}

// ---- CodeSandbox -----------------------------------------------------------------------------

CodeSandbox::CodeSandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CodeSandbox::~CodeSandbox() = default;

SandboxMode CodeSandbox::mode() const { return impl_->mode; }
CgroupLayout CodeSandbox::cgroup_layout() const { return impl_->layout; }
bool CodeSandbox::degraded() const { return impl_->degraded; }
int CodeSandbox::slots() const { return static_cast<int>(impl_->slots.size()); }

std::vector<int> CodeSandbox::slot_uids() const {
  std::vector<int> uids;
  for (const auto& slot : impl_->slots) uids.push_back(static_cast<int>(slot->uid));
  return uids;
}

std::vector<std::string> CodeSandbox::slot_cgroup_dirs(int slot) const {
  if (slot < 0 || slot >= slots() || !impl_->slots[slot]->cgroup) return {};
  return impl_->slots[slot]->cgroup->dirs();
}

std::vector<int> CodeSandbox::fork_server_pids() const {
  std::vector<int> pids;
  for (const auto& slot : impl_->slots) {
    if (slot->server)
      pids.insert(pids.end(), slot->server->pids().begin(), slot->server->pids().end());
  }
  return pids;
}

std::string CodeSandbox::Describe() const {
  const Impl& impl = *impl_;
  std::string text = absl::StrCat(
      "mode ", SandboxModeName(impl.mode), impl.degraded ? " (DEGRADED)" : "", "; ",
      impl.cgroup_description, "; ", impl.slots.size(), " slot", impl.slots.size() == 1 ? "" : "s");
  if (impl.root && !impl.slots.empty()) {
    absl::StrAppend(&text, ", uids ", impl.slots.front()->uid, "-", impl.slots.back()->uid);
  } else if (!impl.root) {
    absl::StrAppend(&text, ", not root: runs as uid ", ::geteuid());
  }
  if (impl.fork_server) absl::StrAppend(&text, ", a Python fork server per slot");
  if (!impl.notes.empty()) absl::StrAppend(&text, " [", absl::StrJoin(impl.notes, "; "), "]");
  return text;
}

absl::StatusOr<SandboxSession> CodeSandbox::Acquire() {
  Impl& impl = *impl_;
  Slot* slot = nullptr;
  {
    absl::MutexLock lock(&impl.mu);
    impl.mu.Await(absl::Condition(
        +[](int* free) { return *free > 0; }, &impl.free_slots));
    for (auto& s : impl.slots) {
      if (!s->busy) {
        slot = s.get();
        break;
      }
    }
    slot->busy = true;
    --impl.free_slots;
  }
  SandboxSession session(this, slot->index);
  if (impl.fork_server && !slot->server && slot->server_failures < kMaxServerFailures) {
    // Now, while no session is mounted on the slot.
    absl::Status started = impl.StartServer(*slot);
    if (!started.ok()) {
      spdlog::warn("code sandbox: slot {}: {}{}", slot->index, std::string(started.message()),
                   slot->server_failures < kMaxServerFailures
                       ? ""
                       : "; this slot runs Python the ordinary way from now on");
    }
  }
  if (!slot->work_ready) {
    absl::Status prepared = impl.PrepareWork(*slot);
    if (!prepared.ok()) return prepared;  // the session's destructor frees the slot
  }
  return session;
}

absl::StatusOr<SandboxResult> CodeSandbox::Run(const std::vector<File>& files,
                                               const SandboxCommand& command) {
  PONDER_ASSIGN_OR_RETURN(SandboxSession session, Acquire());
  for (const auto& file : files) {
    PONDER_RETURN_IF_ERROR(session.WriteFile(file.name, file.content, file.executable));
  }
  return session.Run(command);
}

// ---- SandboxSession --------------------------------------------------------------------------

SandboxSession::SandboxSession(CodeSandbox* owner, int slot) : owner_(owner), slot_(slot) {}

SandboxSession::SandboxSession(SandboxSession&& other) noexcept
    : owner_(other.owner_), slot_(other.slot_) {
  other.owner_ = nullptr;
  other.slot_ = -1;
}

SandboxSession& SandboxSession::operator=(SandboxSession&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = other.owner_;
    slot_ = other.slot_;
    other.owner_ = nullptr;
    other.slot_ = -1;
  }
  return *this;
}

SandboxSession::~SandboxSession() { Release(); }

void SandboxSession::Release() {
  if (owner_ == nullptr) return;
  CodeSandbox::Impl& impl = *owner_->impl_;
  Slot& slot = *impl.slots[slot_];
  if (slot.work_ready) {
    internal::ReleaseWorkDir(slot.work_dir, impl.root);
    slot.work_ready = false;
  }
  {
    absl::MutexLock lock(&impl.mu);
    slot.busy = false;
    ++impl.free_slots;
  }
  owner_ = nullptr;
  slot_ = -1;
}

int SandboxSession::uid() const {
  return owner_ == nullptr ? -1 : static_cast<int>(owner_->impl_->slots[slot_]->uid);
}

const std::string& SandboxSession::host_work_dir() const {
  static const std::string* const kNone = new std::string();
  return owner_ == nullptr ? *kNone : owner_->impl_->slots[slot_]->work_dir;
}

absl::Status SandboxSession::WriteFile(const std::string& name, std::string_view content,
                                       bool executable) {
  if (owner_ == nullptr) return absl::FailedPreconditionError("the sandbox session was released");
  const Slot& slot = *owner_->impl_->slots[slot_];
  return internal::WriteWorkFile(slot.work_dir, name, content, executable, slot.uid,
                                 owner_->impl_->root);
}

absl::StatusOr<SandboxResult> SandboxSession::Run(const SandboxCommand& command) {
  if (owner_ == nullptr) return absl::FailedPreconditionError("the sandbox session was released");
  if (command.argv.empty() || command.argv[0].empty()) {
    return absl::InvalidArgumentError("sandbox command has no program (argv is empty)");
  }
  if (command.argv[0][0] != '/' && command.argv[0].rfind("./", 0) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sandbox command must name its program by path ('/usr/bin/python3' or './main'), got '",
        command.argv[0], "'"));
  }
  PONDER_RETURN_IF_ERROR(command.limits.Validate());
  return owner_->impl_->RunInSlot(*owner_->impl_->slots[slot_], command);
}

// ---- Create ----------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<CodeSandbox>> CodeSandbox::Create(const SandboxOptions& options) {
  PONDER_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  s.options = options;
  s.root = ::geteuid() == 0;
  s.base_env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8",      "HOME=/nonexistent",
                "TMPDIR=/tmp",        "OMP_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1"};
  PONDER_ASSIGN_OR_RETURN(internal::SeccompFilter filter, internal::SeccompFilter::Build());
  s.filter.emplace(std::move(filter));

  std::string state_dir = options.state_dir;
  if (!s.root) {
    state_dir = absl::StrCat("/tmp/ponder-sandbox-", ::geteuid());
    s.notes.push_back("not root: no per-slot uid, work dirs are not size-limited tmpfs");
  }
  PONDER_RETURN_IF_ERROR(internal::PrepareStateDir(state_dir, s.root));

  int count = static_cast<int>(options.slots);
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());

  // Cgroups: detect once, then one per slot.
  std::optional<internal::CgroupHost> host;
  if (options.cgroups != "off") {
    absl::StatusOr<std::string> self = internal::ReadSmallFile("/proc/self/cgroup");
    absl::StatusOr<internal::CgroupHost> detected =
        self.ok() ? internal::CgroupHost::Detect(options.cgroup_root, *self, ::getpid())
                  : absl::StatusOr<internal::CgroupHost>(self.status());
    if (detected.ok() && detected->layout() != CgroupLayout::kNone) {
      host = *detected;
    } else {
      std::string why = detected.ok()
                            ? "no memory and pids controllers under " + options.cgroup_root
                            : std::string(detected.status().message());
      if (options.cgroups == "required") {
        return absl::FailedPreconditionError(absl::StrCat("sandbox cgroups are required: ", why));
      }
      s.notes.push_back(absl::StrCat("no cgroups (", why, ")"));
    }
  }

  for (int i = 0; i < count; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    if (s.root) {
      // A uid no other process (another verifier, a parallel test) is using.
      int64_t first = options.uid_base;
      if (i > 0) first = s.slots.back()->uid + 1;
      bool leased = false;
      for (int64_t uid = first; uid < options.uid_base + options.uid_count; ++uid) {
        absl::StatusOr<internal::UidLease> lease =
            internal::UidLease::Take(state_dir, static_cast<uid_t>(uid));
        if (!lease.ok()) {
          if (absl::IsUnavailable(lease.status())) continue;  // taken by someone else
          return lease.status();
        }
        slot->uid = static_cast<uid_t>(uid);
        slot->lease = std::move(*lease);
        leased = true;
        break;
      }
      if (!leased) {
        return absl::ResourceExhaustedError(
            absl::StrCat("no free sandbox uid in [", options.uid_base, ", ",
                         options.uid_base + options.uid_count, ") for slot ", i,
                         " (each slot of every running verifier leases one; raise uid_count)"));
      }
      // Whatever a crashed earlier owner of this uid left running.
      internal::KillEveryProcessOf(slot->uid);
    } else {
      slot->uid = ::geteuid();
    }
    slot->work_dir = absl::StrCat(state_dir, "/work-", s.root ? slot->uid : static_cast<uid_t>(i));
    slot->root_dir = absl::StrCat(state_dir, "/root-", s.root ? slot->uid : static_cast<uid_t>(i));
    PONDER_RETURN_IF_ERROR(internal::PrepareMountPoint(slot->work_dir, s.root));
    if (s.root) PONDER_RETURN_IF_ERROR(internal::PrepareMountPoint(slot->root_dir, s.root));
    if (host) {
      absl::StatusOr<std::unique_ptr<internal::SlotCgroup>> cgroup = host->CreateSlot(
          absl::StrCat("ponder-sandbox-", s.root ? slot->uid : ::getpid() * 100 + i));
      if (cgroup.ok()) {
        slot->cgroup = std::move(*cgroup);
      } else if (options.cgroups == "required") {
        return cgroup.status();
      } else {
        s.notes.push_back(absl::StrCat("no cgroups (", cgroup.status().message(), ")"));
        host.reset();
        for (auto& earlier : s.slots) earlier->cgroup.reset();
      }
    }
    if (host && s.root && options.python_fork_server) {
      absl::StatusOr<std::unique_ptr<internal::SlotCgroup>> cgroup =
          host->CreateSlot(absl::StrCat("ponder-sandbox-", slot->uid, "-python"));
      absl::Status shared =
          cgroup.ok() ? internal::ShareMountPoint(slot->work_dir) : cgroup.status();
      if (shared.ok()) {
        slot->server_cgroup = std::move(*cgroup);
      } else {
        s.notes.push_back(absl::StrCat("no Python fork server (", shared.message(), ")"));
      }
    }
    PONDER_ASSIGN_OR_RETURN(slot->seccomp_memfd, s.filter->NewMemfd());
    s.slots.push_back(std::move(slot));
  }
  s.layout = host ? host->layout() : CgroupLayout::kNone;
  s.cgroup_description = host ? host->Describe() : "no cgroups (rlimits only)";
  {
    absl::MutexLock lock(&s.mu);
    s.free_slots = count;
  }
  bool pids_contained = s.layout != CgroupLayout::kNone || s.root;

  // Modes, best first; each is probed with a trivial run in slot 0.
  std::vector<SandboxMode> candidates;
  if (options.mode == "auto" || options.mode == "bwrap") {
    candidates.push_back(SandboxMode::kBubblewrap);
  }
  if (options.mode == "auto" || options.mode == "namespaces") {
    candidates.push_back(SandboxMode::kNamespaces);
  }
  if (options.mode == "auto" || options.mode == "plain") candidates.push_back(SandboxMode::kPlain);

  std::unique_ptr<CodeSandbox> sandbox(new CodeSandbox(std::move(impl)));
  std::vector<std::string> rejected;
  bool chosen = false;
  for (SandboxMode mode : candidates) {
    if (mode == SandboxMode::kBubblewrap && ::access(options.bwrap_path.c_str(), X_OK) != 0) {
      rejected.push_back(absl::StrCat("bwrap: ", options.bwrap_path, " is not an executable (",
                                      std::strerror(errno), "; apt-get install bubblewrap)"));
      continue;
    }
    if (mode == SandboxMode::kNamespaces && !s.root) {
      rejected.push_back("namespaces: needs root");
      continue;
    }
    if (mode == SandboxMode::kPlain && !options.allow_degraded) {
      rejected.push_back(
          "plain: the host filesystem would be visible to the programs (set allow_degraded "
          "to accept)");
      continue;
    }
    if (!pids_contained && !options.allow_degraded) {
      rejected.push_back(absl::StrCat(SandboxModeName(mode),
                                      ": not root and no pids cgroup, so fork bombs would not be "
                                      "contained (set allow_degraded to accept)"));
      continue;
    }
    s.mode = mode;
    SandboxCommand probe;
    probe.argv = {"/usr/bin/true"};
    probe.limits.wall_s = 10;
    absl::StatusOr<SandboxResult> result = sandbox->Run({}, probe);
    if (result.ok() && result->verdict == Verdict::kOk) {
      chosen = true;
      break;
    }
    rejected.push_back(
        absl::StrCat(SandboxModeName(mode), ": probe run failed: ",
                     result.ok() ? absl::StrCat(VerdictName(result->verdict), ": ", result->message,
                                                result->stderr_text.empty() ? "" : " / ",
                                                result->stderr_text.substr(0, 300))
                                 : std::string(result.status().message())));
  }
  if (!chosen) {
    return absl::FailedPreconditionError(
        absl::StrCat("no usable code sandbox mode: ", absl::StrJoin(rejected, "; ")));
  }
  s.degraded = s.mode == SandboxMode::kPlain || !pids_contained || !s.root;
  for (const auto& why : rejected) s.notes.push_back(why);
  s.fork_server = s.mode == SandboxMode::kBubblewrap && !s.slots.empty() &&
                  std::all_of(s.slots.begin(), s.slots.end(),
                              [](const auto& slot) { return slot->server_cgroup != nullptr; });
  if (s.fork_server) {
    // One start-up per slot, side by side (each is an interpreter importing modules).
    std::vector<absl::Status> started(s.slots.size());
    std::vector<std::thread> starters;
    for (size_t i = 0; i < s.slots.size(); ++i) {
      starters.emplace_back([&, i] { started[i] = s.StartServer(*s.slots[i]); });
    }
    for (auto& t : starters) t.join();
    for (const absl::Status& status : started) {
      if (!status.ok()) {
        s.fork_server = false;
        s.notes.push_back(absl::StrCat("no Python fork server (", status.message(), ")"));
        for (auto& slot : s.slots) slot->server.reset();
        break;
      }
    }
  }

  if (s.degraded) {
    spdlog::warn("code sandbox: {}", sandbox->Describe());
  } else {
    spdlog::info("code sandbox: {}", sandbox->Describe());
  }
  return sandbox;
}

}  // namespace ponder::reward
