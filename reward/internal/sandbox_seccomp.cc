#include "reward/internal/sandbox_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ponder::reward::internal {
namespace {

// Denied with EPERM whatever their arguments.
constexpr const char* kDenied[] = {
    // namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount",
    "move_mount", "open_tree", "fsconfig", "fspick", "mount_setattr",
    // other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev",
    // kernel attack surface
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key",
    // administration
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "syslog", "quotactl", "quotactl_fd", "open_by_handle_at",
    "name_to_handle_at", "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "lookup_dcookie", "nfsservctl"};

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

}  // namespace

SeccompFilter& SeccompFilter::operator=(const SeccompFilter& other) {
  bytes_ = other.bytes_;
  program_.len = static_cast<unsigned short>(bytes_.size() / sizeof(sock_filter));
  program_.filter = reinterpret_cast<sock_filter*>(bytes_.data());
  return *this;
}

absl::StatusOr<SeccompFilter> SeccompFilter::Build() {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return absl::InternalError("seccomp_init failed");
  // Other ABIs (i386 through int 0x80, x32) are not in the filter: libseccomp's bad-arch
  // action (kill) applies to them.
  std::vector<std::string> errors;
  auto add = [&](const char* name, uint32_t action, std::vector<scmp_arg_cmp> args) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // unknown to this libseccomp: nothing to deny
    int rc = seccomp_rule_add_array(ctx.get(), action, nr, args.size(),
                                    args.empty() ? nullptr : args.data());
    if (rc < 0) errors.push_back(absl::StrCat(name, ": ", std::strerror(-rc)));
  };
  for (const char* name : kDenied) add(name, SCMP_ACT_ERRNO(EPERM), {});
  // Network: only AF_UNIX sockets (the sandbox also has an empty network namespace).
  add("socket", SCMP_ACT_ERRNO(EACCES), {SCMP_A0(SCMP_CMP_NE, AF_UNIX)});
  add("socketpair", SCMP_ACT_ERRNO(EACCES), {SCMP_A0(SCMP_CMP_NE, AF_UNIX)});
  // clone with any namespace flag; clone3 passes its flags in memory, where a filter cannot
  // look, so it reports "not implemented" and libc retries with clone.
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                        CLONE_NEWPID, CLONE_NEWNET}) {
    add("clone", SCMP_ACT_ERRNO(EPERM), {SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)});
  }
  add("clone3", SCMP_ACT_ERRNO(ENOSYS), {});
  // Terminal input injection; the kernel reads the command as 32 bits.
  add("ioctl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)});
  add("ioctl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX)});
  if (!errors.empty()) {
    std::string message = "cannot build the seccomp filter:";
    for (const auto& e : errors) absl::StrAppend(&message, " ", e, ";");
    return absl::InternalError(message);
  }
  int fd = memfd_create("ponder-seccomp-build", MFD_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
  int rc = seccomp_export_bpf(ctx.get(), fd);
  if (rc < 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("seccomp_export_bpf: ", std::strerror(-rc)));
  }
  SeccompFilter filter;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) filter.bytes_.append(buf, n);
  ::close(fd);
  if (filter.bytes_.empty() || filter.bytes_.size() % sizeof(sock_filter) != 0) {
    return absl::InternalError("seccomp_export_bpf produced no valid program");
  }
  filter = SeccompFilter(filter);  // sets program_ to point at bytes_
  return filter;
}

absl::StatusOr<int> SeccompFilter::NewMemfd() const {
  int fd = memfd_create("ponder-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
  if (::write(fd, bytes_.data(), bytes_.size()) != static_cast<ssize_t>(bytes_.size()) ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0 ||
      ::lseek(fd, 0, SEEK_SET) != 0) {
    int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot fill the seccomp memfd: ", std::strerror(err)));
  }
  return fd;
}

}  // namespace ponder::reward::internal
