// Weight updates on the wire (RolloutService.UpdateWeights): the sender streams one begin
// message (version, tensor count, total bytes), the tensors cut into chunks, and one commit
// message with the CRC-32C of all chunk data in the order sent. The receiver assembles the
// chunks here and hands the tensors on only when the stream is complete and the checksum
// matches; any inconsistency is an error that names the tensor, and nothing is applied.
//
// Plain C++ (no protobuf, no LibTorch): the gRPC layer converts messages to these calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rollout/rollout.h"

namespace ponder::rollout {

// One chunk: bytes [offset, offset + data.size()) of tensor `name`.
struct WeightChunk {
  std::string_view name;
  WeightDType dtype = WeightDType::kF32;
  std::vector<int64_t> shape;  // the whole tensor's shape, on every chunk
  uint64_t offset = 0;
  uint64_t total_bytes = 0;  // the whole tensor's size
  std::string_view data;
};

// Cuts `tensors` into chunks of at most `chunk_bytes` data bytes, in order, and calls `emit`
// on each; stops early (returning false) when `emit` returns false. The CRC-32C the commit
// message carries is that of all the chunks' data in this order, i.e. of the tensors' bytes
// one after another.
bool ForEachWeightChunk(const std::vector<WeightTensor>& tensors, size_t chunk_bytes,
                        const std::function<bool(const WeightChunk&)>& emit);

class WeightUpdateAssembler {
 public:
  // `max_total_bytes` bounds what a sender may announce (and so what is allocated).
  explicit WeightUpdateAssembler(uint64_t max_total_bytes = uint64_t{64} << 30)
      : max_total_bytes_(max_total_bytes) {}

  absl::Status Begin(int64_t version, uint32_t num_tensors, uint64_t total_bytes);
  // Chunks of one tensor must come in order and back to back (offset = bytes received so far
  // for it); tensors may not interleave.
  absl::Status AddChunk(const WeightChunk& chunk);
  // Checks completeness and the checksum and returns the tensors (owning their bytes).
  absl::StatusOr<std::vector<WeightTensor>> Commit(uint32_t crc32c);

  bool begun() const { return begun_; }
  bool committed() const { return committed_; }
  int64_t version() const { return version_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  struct Pending {
    WeightDType dtype;
    std::vector<int64_t> shape;
    uint64_t total_bytes = 0;
    std::shared_ptr<std::string> bytes;  // filled up to bytes->size()
  };

  uint64_t max_total_bytes_;
  bool begun_ = false, committed_ = false;
  int64_t version_ = 0;
  uint32_t num_tensors_ = 0;
  uint64_t total_bytes_ = 0;
  uint64_t bytes_received_ = 0;
  uint32_t crc_ = 0;
  std::vector<std::string> order_;  // tensor names in the order first seen
  std::map<std::string, Pending, std::less<>> tensors_;
  std::string current_;  // the tensor being received
};

}  // namespace ponder::rollout
