#include "rollout/shared_weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/crc32c.h"

namespace ponder::rollout {
namespace {

constexpr char kPrefix[] = "/dev/shm/ponder-weights-";

// A read-only mapping, unmapped with the last tensor that borrows it.
struct Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr && data != MAP_FAILED) munmap(data, size);
  }
};

}  // namespace

absl::StatusOr<std::shared_ptr<SharedWeightsFile>> SharedWeightsFile::Create(size_t bytes) {
  static std::atomic<uint64_t> counter{0};
  std::random_device random;
  std::shared_ptr<SharedWeightsFile> file(new SharedWeightsFile());
  file->path_ = absl::StrCat(kPrefix, getpid(), "-", counter.fetch_add(1), "-", random());
  file->size_ = std::max<size_t>(bytes, 1);
  const int fd = open(file->path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create '", file->path_, "': ", std::strerror(errno)));
  }
  // Reserve the pages now: a full /dev/shm is an error here, not a SIGBUS later.
  const int reserved = posix_fallocate(fd, 0, static_cast<off_t>(file->size_));
  void* data = reserved == 0 ? mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                             : MAP_FAILED;
  close(fd);
  if (data == MAP_FAILED) {
    unlink(file->path_.c_str());
    return absl::UnavailableError(absl::StrCat("cannot map ", file->size_, " bytes of '",
                                               file->path_, "' (is /dev/shm large enough?)"));
  }
  file->data_ = static_cast<char*>(data);
  return file;
}

SharedWeightsFile::~SharedWeightsFile() {
  if (data_ != nullptr) munmap(data_, size_);
  unlink(path_.c_str());
}

absl::StatusOr<std::vector<WeightTensor>> MapSharedWeights(const std::string& path,
                                                           const std::vector<SharedTensor>& layout,
                                                           uint32_t crc32c) {
  if (path.rfind(kPrefix, 0) != 0 || path.find("..") != std::string::npos ||
      path.find('/', sizeof(kPrefix) - 1) != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: shared weights must be a file ",
                                                   kPrefix, "* (got '", path, "')"));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open shared weights '", path, "' here: ", std::strerror(errno),
                     " (not on the trainer's host?); stream the weights instead"));
  }
  struct stat st;
  auto mapping = std::make_shared<Mapping>();
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    mapping->size = static_cast<size_t>(st.st_size);
    mapping->data = mmap(nullptr, mapping->size, PROT_READ, MAP_SHARED, fd, 0);
  }
  close(fd);
  if (mapping->data == nullptr || mapping->data == MAP_FAILED) {
    return absl::FailedPreconditionError(absl::StrCat("cannot map shared weights '", path, "'"));
  }
  std::vector<WeightTensor> out;
  uint32_t crc = 0;
  const char* base = static_cast<const char*>(mapping->data);
  for (const SharedTensor& t : layout) {
    uint64_t elements = 1;
    for (int64_t d : t.shape) elements *= d < 0 ? 0 : static_cast<uint64_t>(d);
    if (t.offset > mapping->size || t.bytes > mapping->size - t.offset ||
        elements * WeightDTypeSize(t.dtype) != t.bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("UpdateWeights: tensor '", t.name, "' (", t.bytes, " bytes at ", t.offset,
                       ", shape [", absl::StrJoin(t.shape, ", "),
                       "]) does not fit shared weights '", path, "' of ", mapping->size, " bytes"));
    }
    crc = Crc32cExtend(crc, base + t.offset, t.bytes);
    out.push_back({.name = t.name,
                   .dtype = t.dtype,
                   .shape = t.shape,
                   .data = base + t.offset,
                   .bytes = t.bytes,
                   .owner = mapping});
  }
  if (crc != crc32c) {
    return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: shared weights '", path,
                                                   "' have CRC-32C ", crc, ", not ", crc32c));
  }
  return out;
}

}  // namespace ponder::rollout
