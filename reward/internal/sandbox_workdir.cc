#include "reward/internal/sandbox_workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ponder::reward::internal {
namespace {

std::string Err() { return std::strerror(errno); }

// Unlinks the entries of the open directory `dirfd`, recursing into subdirectories through
// O_NOFOLLOW descriptors. Closes `dirfd`.
void RemoveContentsAt(int dirfd, int depth) {
  DIR* d = fdopendir(dirfd);
  if (d == nullptr) {
    ::close(dirfd);
    return;
  }
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (::unlinkat(dirfd, e->d_name, 0) == 0) continue;
    if (errno != EISDIR && errno != EPERM) continue;
    if (depth < 64) {
      int sub = ::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) RemoveContentsAt(sub, depth + 1);
    }
    ::unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
  }
  closedir(d);
}

}  // namespace

absl::Status PrepareStateDir(const std::string& dir, bool root) {
  mode_t mode = root ? 0711 : 0700;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create the sandbox state dir ", dir, ": ", Err()));
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot stat ", dir, ": ", Err()));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the sandbox state dir ", dir,
        " must be a directory owned by us and writable by nobody else; remove it or choose "
        "another state_dir"));
  }
  if ((st.st_mode & 07777) != mode && ::chmod(dir.c_str(), mode) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot chmod ", dir, ": ", Err()));
  }
  return absl::OkStatus();
}

UidLease& UidLease::operator=(UidLease&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

UidLease::~UidLease() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<UidLease> UidLease::Take(const std::string& state_dir, uid_t uid) {
  std::string path = absl::StrCat(state_dir, "/lease-", uid);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open the uid lease ", path, ": ", Err()));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return absl::UnavailableError(absl::StrCat("uid ", uid, " is taken"));
    return absl::PermissionDeniedError(
        absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
  }
  UidLease lease;
  lease.fd_ = fd;
  return lease;
}

void RemoveMounts(const std::string& dir) {
  for (int i = 0; i < 16 && ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0; ++i) {
  }
}

absl::Status PrepareMountPoint(const std::string& dir, bool root) {
  if (root) RemoveMounts(dir);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir, ": ", Err()));
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir,
                     " must be a directory owned by us (a symlink or a foreign file is "
                     "there); remove it"));
  }
  if (!root) RemoveContents(dir);
  return absl::OkStatus();
}

absl::Status PrepareWorkDir(const std::string& dir, bool root, uid_t uid, int64_t bytes) {
  if (!root) {
    RemoveContents(dir);
    return absl::OkStatus();
  }
  // nr_inodes bounds the many-small-files attack's kernel memory as size bounds the data.
  std::string options =
      absl::StrCat("size=", bytes, ",nr_inodes=16384,mode=0700,uid=", uid, ",gid=", uid);
  if (::mount("ponder-box", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot mount the work dir tmpfs on ", dir, ": ", Err()));
  }
  return absl::OkStatus();
}

void ReleaseWorkDir(const std::string& dir, bool root) {
  if (root) {
    // Only the session's tmpfs: the mount point may itself be a (shared) bind mount.
    ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  } else {
    RemoveContents(dir);
  }
}

absl::Status ShareMountPoint(const std::string& dir) {
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      ::mount(nullptr, dir.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
    return absl::InternalError(absl::StrCat("cannot make ", dir, " a shared bind mount: ", Err()));
  }
  return absl::OkStatus();
}

absl::Status WriteWorkFile(const std::string& dir, const std::string& name,
                           std::string_view content, bool executable, uid_t uid, bool root) {
  if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
      name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox file name must be a plain file name (got '", name, "')"));
  }
  int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0) return absl::InternalError(absl::StrCat("cannot open ", dir, ": ", Err()));
  int fd = ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    executable ? 0755 : 0644);
  int err = errno;
  ::close(dirfd);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", name, " in the sandbox work dir: ", std::strerror(err)));
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = errno;
      ::close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot write ", name, " (", content.size(),
                       " bytes) into the sandbox work dir: ", std::strerror(err)));
    }
    done += n;
  }
  if (root && ::fchown(fd, uid, uid) != 0) {
    err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot chown ", name, ": ", std::strerror(err)));
  }
  ::close(fd);
  return absl::OkStatus();
}

void RemoveContents(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) RemoveContentsAt(fd, 0);
}

}  // namespace ponder::reward::internal
