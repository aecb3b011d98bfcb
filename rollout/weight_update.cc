#include "rollout/weight_update.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/crc32c.h"

namespace ponder::rollout {

bool ForEachWeightChunk(const std::vector<WeightTensor>& tensors, size_t chunk_bytes,
                        const std::function<bool(const WeightChunk&)>& emit) {
  chunk_bytes = std::max<size_t>(chunk_bytes, 1);
  for (const WeightTensor& t : tensors) {
    WeightChunk chunk;
    chunk.name = t.name;
    chunk.dtype = t.dtype;
    chunk.shape = t.shape;
    chunk.total_bytes = t.bytes;
    const char* bytes = static_cast<const char*>(t.data);
    uint64_t offset = 0;
    do {  // an empty tensor still sends one (empty) chunk, so that it arrives
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_bytes, t.bytes - offset));
      chunk.offset = offset;
      chunk.data = std::string_view(bytes + offset, n);
      if (!emit(chunk)) return false;
      offset += n;
    } while (offset < t.bytes);
  }
  return true;
}

absl::Status WeightUpdateAssembler::Begin(int64_t version, uint32_t num_tensors,
                                          uint64_t total_bytes) {
  if (begun_) {
    return absl::InvalidArgumentError("UpdateWeights: a second begin message in one stream");
  }
  if (num_tensors == 0) {
    return absl::InvalidArgumentError("UpdateWeights: the begin message announces no tensors");
  }
  if (total_bytes > max_total_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: the begin message announces ",
                                                   total_bytes, " bytes, over the limit of ",
                                                   max_total_bytes_));
  }
  begun_ = true;
  version_ = version;
  num_tensors_ = num_tensors;
  total_bytes_ = total_bytes;
  return absl::OkStatus();
}

absl::Status WeightUpdateAssembler::AddChunk(const WeightChunk& c) {
  if (!begun_) {
    return absl::InvalidArgumentError("UpdateWeights: a chunk came before the begin message");
  }
  if (committed_) {
    return absl::InvalidArgumentError("UpdateWeights: a chunk came after the commit message");
  }
  const std::string name(c.name);
  const std::string where = absl::StrCat("UpdateWeights: tensor '", name, "'");
  if (c.name.empty()) return absl::InvalidArgumentError("UpdateWeights: a chunk has no name");
  uint64_t elements = 1;
  for (int64_t d : c.shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": negative dimension in shape [",
                                                     absl::StrJoin(c.shape, ", "), "]"));
    }
    if (d > 0 && elements > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": shape too large"));
    }
    elements *= static_cast<uint64_t>(d);
  }
  if (elements * WeightDTypeSize(c.dtype) != c.total_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": total_bytes ", c.total_bytes, " does not match shape [",
                     absl::StrJoin(c.shape, ", "), "] of ", WeightDTypeName(c.dtype), " (",
                     elements * WeightDTypeSize(c.dtype), " bytes)"));
  }
  auto it = tensors_.find(c.name);
  if (it == tensors_.end()) {
    if (!current_.empty() &&
        tensors_.at(current_).bytes->size() != tensors_.at(current_).total_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: tensor '", name,
                                                     "' started before tensor '", current_,
                                                     "' was complete"));
    }
    if (tensors_.size() == num_tensors_) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": more tensors than the ", num_tensors_, " announced"));
    }
    if (bytes_received_ + c.total_bytes > total_bytes_) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the tensors exceed the ", total_bytes_, " bytes announced"));
    }
    Pending p;
    p.dtype = c.dtype;
    p.shape = c.shape;
    p.total_bytes = c.total_bytes;
    p.bytes = std::make_shared<std::string>();
    p.bytes->reserve(c.total_bytes);
    it = tensors_.emplace(std::string(c.name), std::move(p)).first;
    order_.emplace_back(c.name);
    current_ = std::string(c.name);
  } else if (current_ != c.name) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": chunks of it are not contiguous in the stream"));
  }
  Pending& p = it->second;
  if (p.dtype != c.dtype || p.shape != c.shape || p.total_bytes != c.total_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": dtype, shape or total_bytes differ between its chunks"));
  }
  if (c.offset != p.bytes->size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": chunk at offset ", c.offset, ", expected ", p.bytes->size()));
  }
  if (c.offset + c.data.size() > p.total_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": chunk ends at byte ",
                                                   c.offset + c.data.size(), ", past its ",
                                                   p.total_bytes, " bytes"));
  }
  p.bytes->append(c.data.data(), c.data.size());
  bytes_received_ += c.data.size();
  crc_ = Crc32cExtend(crc_, c.data.data(), c.data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WeightTensor>> WeightUpdateAssembler::Commit(uint32_t crc32c) {
  if (!begun_) {
    return absl::InvalidArgumentError("UpdateWeights: commit came before the begin message");
  }
  if (committed_) return absl::InvalidArgumentError("UpdateWeights: a second commit message");
  committed_ = true;
  if (tensors_.size() != num_tensors_) {
    return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: ", tensors_.size(),
                                                   " tensors received, ", num_tensors_,
                                                   " announced; nothing applied"));
  }
  for (const std::string& name : order_) {
    const Pending& p = tensors_.at(name);
    if (p.bytes->size() != p.total_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: tensor '", name, "' has ",
                                                     p.bytes->size(), " of its ", p.total_bytes,
                                                     " bytes; nothing applied"));
    }
  }
  if (bytes_received_ != total_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: ", bytes_received_,
                                                   " bytes received, ", total_bytes_,
                                                   " announced; nothing applied"));
  }
  if (crc32c != crc_) {
    return absl::DataLossError(absl::StrCat("UpdateWeights: CRC-32C mismatch (sender 0x",
                                            absl::Hex(crc32c), ", received data 0x",
                                            absl::Hex(crc_), "); nothing applied"));
  }
  std::vector<WeightTensor> out;
  out.reserve(order_.size());
  for (const std::string& name : order_) {
    Pending& p = tensors_.at(name);
    WeightTensor t;
    t.name = name;
    t.dtype = p.dtype;
    t.shape = p.shape;
    t.data = p.bytes->data();
    t.bytes = p.bytes->size();
    t.owner = p.bytes;
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace ponder::rollout
