// Element types and borrowed views of raw tensor bytes, as checkpoint files hold them.
//
// The checkpoint readers (safetensors, llama2.c) do not depend on LibTorch: they validate a
// file and hand out TensorData views into its memory map; checkpoint.cc turns the views into
// model parameters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ponder::model {

// The element types a checkpoint file may declare. Only kF32, kF16 and kBF16 can become model
// weights; the others are recognised so that their sizes can be checked and their use named in
// an error.
enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// The safetensors spelling: "F32", "BF16", ...
const char* DTypeName(DType dtype);
// Parses the safetensors spelling; nullopt for anything else.
std::optional<DType> ParseDType(std::string_view name);
size_t DTypeSize(DType dtype);
// True for the types a weight may have (F32, F16, BF16).
bool IsFloatingWeightType(DType dtype);

// One tensor's bytes inside a checkpoint, row-major. `data` stays valid while `owner` lives.
struct TensorData {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;  // the memory map or buffer holding `data`
  std::string file;                   // where it came from, for messages

  int64_t numel() const;
};

// "[512, 64]"
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace ponder::model
