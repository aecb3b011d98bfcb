// The sandbox's seccomp filter (libseccomp, default allow, a denylist answering EPERM/EACCES):
// no sockets but AF_UNIX, no new namespaces, no mounts, no ptrace or cross-process memory
// access, no bpf/perf/userfaultfd/io_uring/keyrings, no kernel or clock administration, no
// TIOCSTI/TIOCLINUX injection; clone3 answers ENOSYS so that libc falls back to clone, whose
// flags the filter can see. Syscalls of another ABI (i386, x32) kill the process.
//
// The compiled BPF program is kept as bytes: bwrap reads it from a memfd (`--seccomp FD`);
// the no-bwrap modes load it with prctl(PR_SET_SECCOMP) in the child, which needs no
// allocation after fork.
#pragma once

#include <linux/filter.h>

#include <string>

#include "absl/status/statusor.h"

namespace ponder::reward::internal {

class SeccompFilter {
 public:
  static absl::StatusOr<SeccompFilter> Build();

  // The program as a sock_fprog for prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ...). Valid as
  // long as this object lives (and in a forked child's copy of it).
  const sock_fprog* program() const { return &program_; }
  const std::string& bytes() const { return bytes_; }

  // A new sealed memfd with the program at offset 0 (close-on-exec). The caller owns it.
  absl::StatusOr<int> NewMemfd() const;

  SeccompFilter(const SeccompFilter& other) { *this = other; }
  SeccompFilter& operator=(const SeccompFilter& other);
  SeccompFilter(SeccompFilter&& other) noexcept { *this = other; }

 private:
  SeccompFilter() = default;
  std::string bytes_;
  sock_fprog program_{};
};

}  // namespace ponder::reward::internal
