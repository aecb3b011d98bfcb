// Weights handed over through shared memory between processes on one host: the trainer
// writes a version once into a file under /dev/shm, and each worker maps it and copies the
// tensors into its model; nothing goes through the gRPC stream but the layout
// (RolloutService.UpdateWeights with a `shared` part). A worker in another host or container
// cannot open the file and says so (FAILED_PRECONDITION); the trainer then streams to it.
//
// Plain C++ (no protobuf, no LibTorch).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rollout/rollout.h"

namespace ponder::rollout {

// A file in /dev/shm (named ponder-weights-*), mapped read-write; unlinked when destroyed.
class SharedWeightsFile {
 public:
  static absl::StatusOr<std::shared_ptr<SharedWeightsFile>> Create(size_t bytes);
  ~SharedWeightsFile();
  char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  SharedWeightsFile() = default;
  std::string path_;
  char* data_ = nullptr;
  size_t size_ = 0;
};

// A tensor's place in a shared file.
struct SharedTensor {
  std::string name;
  WeightDType dtype = WeightDType::kF32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// Maps `path` read-only and returns its tensors (borrowing the mapping, which they keep
// alive). FailedPrecondition when the file cannot be opened here (another host or container);
// InvalidArgument for a path outside /dev/shm/ponder-*, a layout outside the file or not
// matching its shapes, or a checksum that does not match.
absl::StatusOr<std::vector<WeightTensor>> MapSharedWeights(const std::string& path,
                                                           const std::vector<SharedTensor>& layout,
                                                           uint32_t crc32c);

}  // namespace ponder::rollout
