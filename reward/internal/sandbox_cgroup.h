// Per-slot cgroups for the code sandbox: memory (swap 0), pids, CPU quota, CPU accounting, the
// OOM-kill count and a kill switch, in either layout a Linux host may have:
//  * pure v2 (`<root>/cgroup.controllers` exists): memory.max, memory.swap.max, pids.max,
//    cpu.max, cpu.stat, memory.events, cgroup.kill;
//  * v1 or hybrid: memory.limit_in_bytes + memory.memsw.limit_in_bytes, pids.max,
//    cpu.cfs_quota_us, cpuacct.usage, memory.oom_control; on hybrid hosts also a v2 child under
//    `<root>/unified` used only for cgroup.kill and for counting processes.
// Slot cgroups are created under this process's own cgroup (read from /proc/self/cgroup) and
// removed again by the destructor. Everything takes the cgroupfs root and the text of
// /proc/self/cgroup as parameters so that a fake directory tree can stand in for it in tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "reward/sandbox.h"

namespace ponder::reward::internal {

// This process's place in each hierarchy, from the text of /proc/self/cgroup.
struct ProcCgroups {
  std::map<std::string, std::string> v1;  // controller -> path, e.g. "memory" -> "/a/b"
  std::optional<std::string> unified;     // the "0::/path" entry
};
absl::StatusOr<ProcCgroups> ParseProcCgroups(absl::string_view text);

struct CgroupLimits {
  int64_t memory_bytes = 0;
  int64_t pids = 0;
  double cpus = 0.0;  // 0 = no quota
};

struct CgroupUsage {
  double cpu_s = -1.0;     // cumulative; -1 when there is no CPU accounting
  int64_t oom_kills = -1;  // cumulative; -1 when unknown
};

class SlotCgroup;

// The host's cgroup layout and the directories of this process's own cgroups.
class CgroupHost {
 public:
  // `root` is the cgroupfs mount (/sys/fs/cgroup); `proc_self` the text of /proc/self/cgroup;
  // `self_pid` is used on pure v2 when this process must move to a leaf so that controllers
  // can be enabled for its children.
  static absl::StatusOr<CgroupHost> Detect(const std::string& root, absl::string_view proc_self,
                                           int self_pid);
  CgroupLayout layout() const { return layout_; }
  // Creates (or, when a stale one is left over, reuses) the slot cgroup `name`.
  absl::StatusOr<std::unique_ptr<SlotCgroup>> CreateSlot(const std::string& name) const;
  std::string Describe() const;

 private:
  CgroupLayout layout_ = CgroupLayout::kNone;
  std::map<std::string, std::string> v1_base_;  // controller -> our cgroup's directory
  std::string v2_base_;                         // pure v2, or the hybrid unified directory
  bool v2_cpu_ = false;                         // pure v2: the cpu controller is enabled
};

class SlotCgroup {
 public:
  ~SlotCgroup();  // kills what is left, removes the directories
  SlotCgroup(const SlotCgroup&) = delete;
  SlotCgroup& operator=(const SlotCgroup&) = delete;

  CgroupLayout layout() const { return layout_; }
  // Writes the limits that differ from the last ones written.
  absl::Status Apply(const CgroupLimits& limits);
  CgroupUsage ReadUsage() const;

  // Open (O_WRONLY, close-on-exec) cgroup.procs files of every directory of the slot: a
  // process joins the slot by writing "0" to each (async-signal-safe, before it execs).
  const std::vector<int>& join_fds() const { return join_fds_; }
  // The cgroup.procs used to list the slot's processes, and cgroup.kill ("" when the layout
  // has none: pure v1).
  const std::string& procs_path() const { return procs_path_; }
  const std::string& kill_path() const { return kill_path_; }
  const std::vector<std::string>& dirs() const { return dirs_; }

  // The slot's processes (host pids) but those in `except`.
  std::vector<int> Processes(const std::vector<int>& except = {}) const;
  // SIGKILLs every process in the slot but those in `keep` (cgroup.kill when nothing is kept,
  // else one by one) and waits up to `wait` for them to be gone. Returns false when processes
  // remain.
  bool KillAll(absl::Duration wait, const std::vector<int>& keep = {});

 private:
  friend class CgroupHost;
  SlotCgroup() = default;
  CgroupLayout layout_ = CgroupLayout::kNone;
  std::vector<std::string> dirs_;  // every directory we created or reuse
  std::string memory_dir_, pids_dir_, cpu_dir_, cpuacct_dir_, v2_dir_;
  bool v2_cpu_ = false;
  std::vector<int> join_fds_;
  std::string procs_path_, kill_path_;
  CgroupLimits applied_;  // last written; 0 = never
  bool applied_any_ = false;
};

// Small file helpers shared by the sandbox (errors name the path).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);
absl::Status WriteSmallFile(const std::string& path, absl::string_view value);

}  // namespace ponder::reward::internal
