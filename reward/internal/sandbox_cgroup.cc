#include "reward/internal/sandbox_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status.h"

namespace ponder::reward::internal {
namespace {

constexpr int64_t kCpuPeriodUs = 100000;

std::string ErrnoText(int err) { return std::strerror(err); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string Join(const std::string& dir, absl::string_view rel) {
  std::string out = dir;
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  if (!rel.empty()) absl::StrAppend(&out, "/", rel);
  return out;
}

// Reads "key value" lines (cpu.stat, memory.events, memory.oom_control) for `key`.
int64_t ReadKeyed(const std::string& path, absl::string_view key) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t value;
    if (parts.size() == 2 && parts[0] == key && absl::SimpleAtoi(parts[1], &value)) return value;
  }
  return -1;
}

std::set<std::string> Words(const std::string& text) {
  std::set<std::string> out;
  for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty())) {
    out.insert(std::string(w));
  }
  return out;
}

// mkdir that accepts an existing directory left by an earlier process that died: a real
// cgroup without processes is removed and made again (fresh counters); a directory that
// cannot be removed (a fake tree in tests, or one still in use) is reused as it is.
absl::Status MakeCgroupDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return absl::OkStatus();
  int err = errno;
  if (err != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create cgroup ", dir, ": ", ErrnoText(err)));
  }
  // Stale: kill what is inside, then try to start fresh.
  absl::StatusOr<std::string> procs = ReadSmallFile(Join(dir, "cgroup.procs"));
  if (procs.ok()) {
    for (absl::string_view line : absl::StrSplit(*procs, '\n', absl::SkipEmpty())) {
      int pid;
      if (absl::SimpleAtoi(line, &pid) && pid > 1) ::kill(pid, SIGKILL);
    }
  }
  for (int i = 0; i < 50; ++i) {
    if (::rmdir(dir.c_str()) == 0) {
      if (::mkdir(dir.c_str(), 0755) == 0) return absl::OkStatus();
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create cgroup ", dir, ": ", ErrnoText(errno)));
    }
    if (errno != EBUSY) break;  // ENOTEMPTY (a plain directory) etc.: reuse it
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", ErrnoText(errno)));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, n);
    if (out.size() > (1 << 20)) break;
  }
  ::close(fd);
  return out;
}

absl::Status WriteSmallFile(const std::string& path, absl::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC);
  if (fd < 0) {
    return absl::Status(
        errno == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kPermissionDenied,
        absl::StrCat("cannot open ", path, ": ", ErrnoText(errno)));
  }
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::InternalError(
        absl::StrCat("cannot write '", value, "' to ", path, ": ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ProcCgroups> ParseProcCgroups(absl::string_view text) {
  ProcCgroups out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_no;
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3 || parts[2].empty() || parts[2][0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("/proc/self/cgroup line ", line_no, " is malformed: '", line, "'"));
    }
    if (parts[0] == "0" && parts[1].empty()) {
      out.unified = std::string(parts[2]);
      continue;
    }
    for (absl::string_view controller : absl::StrSplit(parts[1], ',', absl::SkipEmpty())) {
      out.v1[std::string(controller)] = std::string(parts[2]);
    }
  }
  return out;
}

absl::StatusOr<CgroupHost> CgroupHost::Detect(const std::string& root, absl::string_view proc_self,
                                              int self_pid) {
  PONDER_ASSIGN_OR_RETURN(ProcCgroups self, ParseProcCgroups(proc_self));
  CgroupHost host;
  if (Exists(Join(root, "cgroup.controllers"))) {
    // Pure v2.
    if (!self.unified) {
      return absl::FailedPreconditionError(
          absl::StrCat(root, " is cgroup v2 but /proc/self/cgroup has no '0::' entry"));
    }
    std::string base = Join(root, *self.unified);
    // A process that moved itself into our leaf earlier: its parent is the base.
    std::vector<std::string> components = absl::StrSplit(*self.unified, '/', absl::SkipEmpty());
    if (!components.empty() && absl::StartsWith(components.back(), "ponder-supervisor")) {
      components.pop_back();
      base = Join(root, absl::StrJoin(components, "/"));
    }
    PONDER_ASSIGN_OR_RETURN(std::string available, ReadSmallFile(Join(base, "cgroup.controllers")));
    std::set<std::string> have = Words(available);
    for (const char* needed : {"memory", "pids"}) {
      if (have.count(needed) == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("cgroup v2 controller '", needed, "' is not available in ", base,
                         " (cgroup.controllers: '", absl::StripAsciiWhitespace(available), "')"));
      }
    }
    PONDER_ASSIGN_OR_RETURN(std::string enabled,
                            ReadSmallFile(Join(base, "cgroup.subtree_control")));
    std::set<std::string> on = Words(enabled);
    std::vector<std::string> wanted = {"memory", "pids"};
    if (have.count("cpu")) wanted.push_back("cpu");
    std::string enable;
    for (const auto& c : wanted) {
      if (on.count(c) == 0) absl::StrAppend(&enable, enable.empty() ? "" : " ", "+", c);
    }
    if (!enable.empty()) {
      // "No internal processes": controllers can only be enabled for the children of a
      // cgroup that holds no processes itself. If the only one is us, move into a leaf.
      PONDER_ASSIGN_OR_RETURN(std::string procs, ReadSmallFile(Join(base, "cgroup.procs")));
      std::vector<std::string> pids = absl::StrSplit(procs, '\n', absl::SkipEmpty());
      for (const auto& pid : pids) {
        if (pid != std::to_string(self_pid)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "cannot enable the cgroup v2 controllers (", enable, ") under ", base,
              ": other processes (pid ", pid,
              ") live there; run the reward server in a cgroup of its own (for example "
              "`systemd-run --scope -p Delegate=yes ...`)"));
        }
      }
      if (!pids.empty()) {
        std::string leaf = Join(base, absl::StrCat("ponder-supervisor-", self_pid));
        PONDER_RETURN_IF_ERROR(MakeCgroupDir(leaf));
        PONDER_RETURN_IF_ERROR(
            WriteSmallFile(Join(leaf, "cgroup.procs"), std::to_string(self_pid)));
      }
      PONDER_RETURN_IF_ERROR(WriteSmallFile(Join(base, "cgroup.subtree_control"), enable));
    }
    host.layout_ = CgroupLayout::kV2;
    host.v2_base_ = base;
    host.v2_cpu_ = have.count("cpu") > 0;
    return host;
  }
  // v1 (or hybrid): one hierarchy per controller, each mounted at <root>/<controller>.
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    auto it = self.v1.find(controller);
    std::string mount = Join(root, controller);
    if (it == self.v1.end() || !Exists(Join(mount, "cgroup.procs"))) continue;
    host.v1_base_[controller] = Join(mount, it->second);
  }
  if (host.v1_base_.count("memory") == 0 || host.v1_base_.count("pids") == 0) {
    return host;  // kNone: no memory or pids controller to contain a run
  }
  host.layout_ = CgroupLayout::kV1;
  std::string unified = Join(root, "unified");
  if (self.unified && Exists(Join(unified, "cgroup.controllers"))) {
    host.layout_ = CgroupLayout::kHybrid;
    host.v2_base_ = Join(unified, *self.unified);
  }
  return host;
}

std::string CgroupHost::Describe() const {
  switch (layout_) {
    case CgroupLayout::kNone:
      return "no cgroups";
    case CgroupLayout::kV2:
      return absl::StrCat("cgroup v2 under ", v2_base_);
    case CgroupLayout::kV1:
    case CgroupLayout::kHybrid: {
      std::vector<std::string> parts;
      for (const auto& [controller, dir] : v1_base_) parts.push_back(controller);
      return absl::StrCat("cgroup ", CgroupLayoutName(layout_), " (v1 ", absl::StrJoin(parts, ","),
                          layout_ == CgroupLayout::kHybrid ? " + unified for kill" : "", ") under ",
                          v1_base_.at("memory"));
    }
  }
  return "";
}

absl::StatusOr<std::unique_ptr<SlotCgroup>> CgroupHost::CreateSlot(const std::string& name) const {
  if (layout_ == CgroupLayout::kNone) {
    return absl::FailedPreconditionError("no cgroup layout to create a slot in");
  }
  std::unique_ptr<SlotCgroup> slot(new SlotCgroup());
  slot->layout_ = layout_;
  auto add_dir = [&](const std::string& dir) -> absl::Status {
    for (const auto& d : slot->dirs_) {
      if (d == dir) return absl::OkStatus();  // co-mounted controllers (cpu,cpuacct)
    }
    PONDER_RETURN_IF_ERROR(MakeCgroupDir(dir));
    slot->dirs_.push_back(dir);
    int fd = ::open(Join(dir, "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot open ", Join(dir, "cgroup.procs"), ": ", ErrnoText(errno)));
    }
    slot->join_fds_.push_back(fd);
    return absl::OkStatus();
  };
  if (layout_ == CgroupLayout::kV2) {
    slot->v2_dir_ = Join(v2_base_, name);
    slot->v2_cpu_ = v2_cpu_;
    PONDER_RETURN_IF_ERROR(add_dir(slot->v2_dir_));
  } else {
    for (const auto& [controller, base] : v1_base_) {
      std::string dir = Join(base, name);
      PONDER_RETURN_IF_ERROR(add_dir(dir));
      if (controller == "memory") slot->memory_dir_ = dir;
      if (controller == "pids") slot->pids_dir_ = dir;
      if (controller == "cpu") slot->cpu_dir_ = dir;
      if (controller == "cpuacct") slot->cpuacct_dir_ = dir;
    }
    if (layout_ == CgroupLayout::kHybrid) {
      slot->v2_dir_ = Join(v2_base_, name);
      PONDER_RETURN_IF_ERROR(add_dir(slot->v2_dir_));
    }
    if (!slot->cpu_dir_.empty()) {
      PONDER_RETURN_IF_ERROR(
          WriteSmallFile(Join(slot->cpu_dir_, "cpu.cfs_period_us"), std::to_string(kCpuPeriodUs)));
    }
  }
  if (!slot->v2_dir_.empty()) {
    slot->procs_path_ = Join(slot->v2_dir_, "cgroup.procs");
    if (Exists(Join(slot->v2_dir_, "cgroup.kill"))) {
      slot->kill_path_ = Join(slot->v2_dir_, "cgroup.kill");
    }
  } else {
    slot->procs_path_ = Join(slot->pids_dir_, "cgroup.procs");
  }
  return slot;
}

SlotCgroup::~SlotCgroup() {
  KillAll(absl::Seconds(2));
  for (int fd : join_fds_) ::close(fd);
  // Children before parents is not an issue: the slot directories are siblings.
  for (const auto& dir : dirs_) {
    for (int i = 0; i < 100; ++i) {
      if (::rmdir(dir.c_str()) == 0 || errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

absl::Status SlotCgroup::Apply(const CgroupLimits& limits) {
  auto changed = [&](auto CgroupLimits::*field) {
    return !applied_any_ || applied_.*field != limits.*field;
  };
  if (layout_ == CgroupLayout::kV2) {
    if (changed(&CgroupLimits::memory_bytes)) {
      PONDER_RETURN_IF_ERROR(
          WriteSmallFile(Join(v2_dir_, "memory.max"), std::to_string(limits.memory_bytes)));
      // Absent when the kernel has no swap accounting: nothing to limit then.
      absl::Status swap = WriteSmallFile(Join(v2_dir_, "memory.swap.max"), "0");
      if (!swap.ok() && !absl::IsNotFound(swap)) return swap;
    }
    if (changed(&CgroupLimits::pids)) {
      PONDER_RETURN_IF_ERROR(
          WriteSmallFile(Join(v2_dir_, "pids.max"), std::to_string(limits.pids)));
    }
    if (v2_cpu_ && changed(&CgroupLimits::cpus)) {
      std::string quota =
          limits.cpus > 0 ? std::to_string(std::llround(limits.cpus * kCpuPeriodUs)) : "max";
      PONDER_RETURN_IF_ERROR(
          WriteSmallFile(Join(v2_dir_, "cpu.max"), absl::StrCat(quota, " ", kCpuPeriodUs)));
    }
  } else {
    if (changed(&CgroupLimits::memory_bytes)) {
      // memsw must stay >= the memory limit at every step: raise memsw first when raising,
      // lower memory first when lowering.
      std::string value = std::to_string(limits.memory_bytes);
      std::string mem = Join(memory_dir_, "memory.limit_in_bytes");
      std::string memsw = Join(memory_dir_, "memory.memsw.limit_in_bytes");
      bool has_memsw = Exists(memsw);
      bool raising = applied_any_ && limits.memory_bytes > applied_.memory_bytes;
      if (has_memsw && raising) PONDER_RETURN_IF_ERROR(WriteSmallFile(memsw, value));
      PONDER_RETURN_IF_ERROR(WriteSmallFile(mem, value));
      if (has_memsw && !raising) {
        absl::Status s = WriteSmallFile(memsw, value);
        // A fresh cgroup has memsw = unlimited, so lowering it below memory cannot happen;
        // report anything else.
        if (!s.ok()) return s;
      }
    }
    if (changed(&CgroupLimits::pids)) {
      PONDER_RETURN_IF_ERROR(
          WriteSmallFile(Join(pids_dir_, "pids.max"), std::to_string(limits.pids)));
    }
    if (!cpu_dir_.empty() && changed(&CgroupLimits::cpus)) {
      std::string quota =
          limits.cpus > 0 ? std::to_string(std::llround(limits.cpus * kCpuPeriodUs)) : "-1";
      PONDER_RETURN_IF_ERROR(WriteSmallFile(Join(cpu_dir_, "cpu.cfs_quota_us"), quota));
    }
  }
  applied_ = limits;
  applied_any_ = true;
  return absl::OkStatus();
}

CgroupUsage SlotCgroup::ReadUsage() const {
  CgroupUsage usage;
  if (layout_ == CgroupLayout::kV2) {
    int64_t usec = ReadKeyed(Join(v2_dir_, "cpu.stat"), "usage_usec");
    if (usec >= 0) usage.cpu_s = usec / 1e6;
    usage.oom_kills = ReadKeyed(Join(v2_dir_, "memory.events"), "oom_kill");
  } else {
    if (!cpuacct_dir_.empty()) {
      absl::StatusOr<std::string> ns = ReadSmallFile(Join(cpuacct_dir_, "cpuacct.usage"));
      int64_t value;
      if (ns.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*ns), &value)) {
        usage.cpu_s = value / 1e9;
      }
    }
    usage.oom_kills = ReadKeyed(Join(memory_dir_, "memory.oom_control"), "oom_kill");
  }
  return usage;
}

std::vector<int> SlotCgroup::Processes(const std::vector<int>& except) const {
  std::vector<int> pids;
  absl::StatusOr<std::string> text = ReadSmallFile(procs_path_);
  if (!text.ok()) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    int pid;
    if (absl::SimpleAtoi(line, &pid) && pid > 0 &&
        std::find(except.begin(), except.end(), pid) == except.end()) {
      pids.push_back(pid);
    }
  }
  return pids;
}

bool SlotCgroup::KillAll(absl::Duration wait, const std::vector<int>& keep) {
  absl::Time deadline = absl::Now() + wait;
  for (int round = 0;; ++round) {
    std::vector<int> pids = Processes(keep);
    if (pids.empty()) return true;
    if (!kill_path_.empty() && keep.empty()) {
      (void)WriteSmallFile(kill_path_, "1");
    }
    for (int pid : pids) {
      if (pid > 1) ::kill(pid, SIGKILL);
    }
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(round < 10 ? 1 : 10));
  }
}

}  // namespace ponder::reward::internal
