#include "base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ponder::file {
namespace {

absl::Status Error(const char* what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat("cannot ", what, " '", path, "': ", std::strerror(err)));
}

// Writes all of `data` to `fd`, retrying short writes and interrupted calls.
bool WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view what) {
  const std::string verb = what.empty() ? "read" : "read " + std::string(what);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const absl::Status error = Error(verb.c_str(), path, err);
    return err == ENOENT ? absl::NotFoundError(error.message()) : error;
  }
  std::string out;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Error(verb.c_str(), path, err);
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error("write", tmp, errno);
  int err = WriteAll(fd, contents) && ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    std::remove(tmp.c_str());
    return Error("write", tmp, err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_err = errno;
    std::remove(tmp.c_str());
    return Error("replace", path, rename_err);
  }
  return absl::OkStatus();
}

absl::Status AppendLine(const std::string& path, std::string_view line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Error("append to", path, errno);
  std::string text(line);
  text.push_back('\n');
  int err = WriteAll(fd, text) ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) return Error("append to", path, err);
  return absl::OkStatus();
}

}  // namespace ponder::file
