// Reading and writing safetensors files and Hugging Face checkpoint folders, without LibTorch.
//
// Format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the byte after the header) plus an optional "__metadata__" map of
// strings, then the raw row-major little-endian data.
//
// Files are memory-mapped; every claim of the header is checked against the file before any
// byte is handed out, so a truncated file or a header that lies about offsets, shapes or types
// is an InvalidArgument naming the file (and the tensor), never a crash.
//
//   PONDER_ASSIGN_OR_RETURN(SafetensorsCheckpoint ckpt, SafetensorsCheckpoint::Open(dir));
//   const TensorData* w = ckpt.Find("model.embed_tokens.weight");
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/tensor_data.h"

namespace ponder::model {

// The names Hugging Face uses inside a model folder.
inline constexpr char kSafetensorsFile[] = "model.safetensors";
inline constexpr char kSafetensorsIndexFile[] = "model.safetensors.index.json";

// One memory-mapped .safetensors file.
class SafetensorsFile {
 public:
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);

  const std::string& path() const { return path_; }
  // In the order of their data in the file.
  const std::vector<TensorData>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when the file has no tensor of that name.
  const TensorData* Find(std::string_view name) const;

 private:
  std::string path_;
  std::vector<TensorData> tensors_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// Writes `tensors` (in that order) to `path` atomically (a temporary file renamed into place).
// Names must be unique and each tensor's nbytes must match its dtype and shape.
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// The weights of a Hugging Face folder: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {name: shard file}}).
class SafetensorsCheckpoint {
 public:
  // `dir` is the folder. Every shard named by the index is opened and every tensor the index
  // lists must be in the shard it names.
  static absl::StatusOr<SafetensorsCheckpoint> Open(const std::string& dir);

  // nullptr when no file has it.
  const TensorData* Find(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> Names() const;
  // The files read (one, or the shards).
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<std::shared_ptr<const SafetensorsFile>> shards_;
  std::map<std::string, const TensorData*, std::less<>> tensors_;
  std::vector<std::string> files_;
};

// Writes `tensors` into `dir` (which must exist) as `model.safetensors`, or, when their total
// size exceeds `max_shard_bytes` (> 0), as `model-0000i-of-0000N.safetensors` shards plus
// `model.safetensors.index.json`, as transformers' save_pretrained does. Tensors are never
// split; shards fill in the given order. Stale weight files of the other layout are removed.
absl::Status WriteSafetensorsFolder(const std::string& dir, const std::vector<TensorData>& tensors,
                                    int64_t max_shard_bytes = 0,
                                    const std::map<std::string, std::string>& metadata = {
                                        {"format", "pt"}});

}  // namespace ponder::model
