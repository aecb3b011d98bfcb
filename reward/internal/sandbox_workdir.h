// The sandbox's state on the host: the state directory (root-owned, mode 0711), one lease
// file per slot uid (an flock held for the verifier's lifetime, so two processes never use
// the same uid), and per-slot work dirs: a fresh size-limited tmpfs for each session, owned by
// the slot uid and unmounted afterwards (so cleanup never walks files the program made).
// Without root the work dir is a plain directory emptied without following symlinks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ponder::reward::internal {

// Creates `dir` (mode 0711 for root, 0700 otherwise) or checks that an existing one is a real
// directory owned by us and not writable by others.
absl::Status PrepareStateDir(const std::string& dir, bool root);

class UidLease {
 public:
  UidLease() = default;
  UidLease(UidLease&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UidLease& operator=(UidLease&& other) noexcept;
  ~UidLease();
  // Unavailable when another process (or another sandbox of this one) holds `uid`.
  static absl::StatusOr<UidLease> Take(const std::string& state_dir, uid_t uid);

 private:
  int fd_ = -1;
};

// Creates an empty directory to mount on, first unmounting whatever a crashed process left.
absl::Status PrepareMountPoint(const std::string& dir, bool root);

// A fresh work dir for a session (a tmpfs of `bytes` owned by `uid`, when root).
absl::Status PrepareWorkDir(const std::string& dir, bool root, uid_t uid, int64_t bytes);
// Ends the session's work dir (unmount its tmpfs; or empty the directory without following
// links).
void ReleaseWorkDir(const std::string& dir, bool root);
// Unmounts everything mounted on `dir` (a crashed process's leftovers; the sandbox's end).
void RemoveMounts(const std::string& dir);
// Makes the mount point a shared bind mount of itself, so that the session tmpfs mounted on it
// later also appears where a long-lived sandbox (the Python fork server) bound it.
absl::Status ShareMountPoint(const std::string& dir);

// Creates `name` (a plain file name) in the work dir: O_EXCL and O_NOFOLLOW, so a link the
// program planted is never followed; owned by `uid` when root.
absl::Status WriteWorkFile(const std::string& dir, const std::string& name,
                           std::string_view content, bool executable, uid_t uid, bool root);

// Removes everything inside `dir` without following symbolic links (openat/unlinkat).
void RemoveContents(const std::string& dir);

}  // namespace ponder::reward::internal
