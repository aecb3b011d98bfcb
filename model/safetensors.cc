#include "model/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/file.h"
#include "base/status.h"
#include "model/internal/mapped_file.h"

namespace ponder::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Headers beyond this are refused before reading them (the real ones are a few hundred KB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::Status BadTensor(const std::string& path, const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name, "': ", what));
}

// Reads a non-negative integer that fits in int64 from a JSON value.
bool ReadCount(const json& value, uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return out <= static_cast<uint64_t>(INT64_MAX);
}

absl::Status ParseEntry(const std::string& path, const std::string& name, const json& entry,
                        uint64_t data_size, TensorData& out, uint64_t& begin, uint64_t& end) {
  if (!entry.is_object()) return BadTensor(path, name, "header entry is not an object");
  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return BadTensor(path, name, "header entry has no \"dtype\" string");
  }
  std::optional<DType> dtype = ParseDType(dtype_it->get<std::string>());
  if (!dtype) {
    return BadTensor(path, name,
                     absl::StrCat("unknown dtype '", dtype_it->get<std::string>(), "'"));
  }
  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return BadTensor(path, name, "header entry has no \"shape\" array");
  }
  uint64_t numel = 1;
  std::vector<int64_t> shape;
  for (const json& dim : *shape_it) {
    uint64_t d;
    if (!ReadCount(dim, d)) {
      return BadTensor(path, name, absl::StrCat("bad dimension ", dim.dump(), " in shape"));
    }
    if (d != 0 && numel > UINT64_MAX / d) return BadTensor(path, name, "shape overflows");
    numel *= d;
    shape.push_back(static_cast<int64_t>(d));
  }
  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !ReadCount((*offsets_it)[0], begin) || !ReadCount((*offsets_it)[1], end)) {
    return BadTensor(path, name, "header entry needs \"data_offsets\": [begin, end]");
  }
  size_t element = DTypeSize(*dtype);
  if (numel > UINT64_MAX / element) return BadTensor(path, name, "shape overflows");
  uint64_t expected = numel * element;
  if (begin > end) {
    return BadTensor(path, name,
                     absl::StrCat("data_offsets [", begin, ", ", end, "] are reversed"));
  }
  if (end > data_size) {
    return BadTensor(path, name,
                     absl::StrCat("data_offsets [", begin, ", ", end, "] run past the end of the ",
                                  data_size, " data bytes (file truncated or header wrong)"));
  }
  if (end - begin != expected) {
    return BadTensor(
        path, name,
        absl::StrCat("data_offsets [", begin, ", ", end, "] hold ", end - begin, " bytes but ",
                     DTypeName(*dtype), " ", ShapeString(shape), " needs ", expected));
  }
  out.name = name;
  out.dtype = *dtype;
  out.shape = std::move(shape);
  out.nbytes = expected;
  out.file = path;
  return absl::OkStatus();
}

std::string ShardName(int i, int n) {
  return absl::StrFormat("model-%05d-of-%05d.safetensors", i, n);
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(std::shared_ptr<const internal::MappedFile> file,
                          internal::MappedFile::Open(path));
  const size_t size = file->size();
  if (size < 8) {
    return Bad(path,
               absl::StrCat("truncated: ", size, " bytes, too short for the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->data()[i];
  if (header_len > size - 8) {
    return Bad(path, absl::StrCat("header length ", header_len, " runs past the end of the ", size,
                                  "-byte file (truncated or not a safetensors file)"));
  }
  if (header_len > kMaxHeaderBytes) {
    return Bad(path, absl::StrCat("header length ", header_len, " is over the ", kMaxHeaderBytes,
                                  "-byte limit"));
  }
  json header;
  try {
    header = json::parse(file->data() + 8, file->data() + 8 + header_len);
  } catch (const json::parse_error& e) {
    return Bad(path, absl::StrCat("header is not valid JSON: ", e.what()));
  }
  if (!header.is_object()) return Bad(path, "header is not a JSON object");

  SafetensorsFile out;
  out.path_ = path;
  const uint64_t data_size = size - 8 - header_len;
  const unsigned char* data = file->data() + 8 + header_len;
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // (begin, end) per tensor
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Bad(path, "\"__metadata__\" is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          return Bad(path, absl::StrCat("\"__metadata__\" value of '", key, "' is not a string"));
        }
        out.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    TensorData tensor;
    uint64_t begin = 0, end = 0;
    PONDER_RETURN_IF_ERROR(ParseEntry(path, name, entry, data_size, tensor, begin, end));
    tensor.data = data + begin;
    tensor.owner = file;
    out.tensors_.push_back(std::move(tensor));
    spans.emplace_back(begin, end);
  }
  // Tensors may not share bytes (a lying header could otherwise alias two weights).
  std::vector<size_t> order(out.tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return spans[a] < spans[b]; });
  uint64_t max_end = 0;
  size_t max_owner = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& cur = spans[order[k]];
    if (cur.second == cur.first) continue;  // empty tensors occupy no bytes
    if (cur.first < max_end) {
      const auto& prev = spans[max_owner];
      return BadTensor(
          path, out.tensors_[order[k]].name,
          absl::StrCat("data_offsets [", cur.first, ", ", cur.second, "] overlap those of tensor '",
                       out.tensors_[max_owner].name, "' [", prev.first, ", ", prev.second, "]"));
    }
    max_end = cur.second;
    max_owner = order[k];
  }
  std::vector<TensorData> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(out.tensors_[i]));
  out.tensors_ = std::move(sorted);
  for (size_t i = 0; i < out.tensors_.size(); ++i) out.by_name_[out.tensors_[i].name] = i;
  return out;
}

const TensorData* SafetensorsFile::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const TensorData& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot write '", path, "': duplicate or reserved tensor name '", t.name, "'"));
    }
    if (static_cast<uint64_t>(t.numel()) * DTypeSize(t.dtype) != t.nbytes) {
      return absl::InvalidArgumentError(absl::StrCat("cannot write '", path, "': tensor '", t.name,
                                                     "' has ", t.nbytes, " bytes but ",
                                                     DTypeName(t.dtype), " ", ShapeString(t.shape),
                                                     " needs ", t.numel() * DTypeSize(t.dtype)));
    }
    header[t.name] = {{"dtype", std::string(DTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot create '", tmp, "'"));
    unsigned char len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorData& t : tensors) {
      out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return absl::DataLossError(absl::StrCat("cannot write '", tmp, "' (disk full?)"));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot rename '", tmp, "' to '", path, "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<SafetensorsCheckpoint> SafetensorsCheckpoint::Open(const std::string& dir) {
  SafetensorsCheckpoint out;
  const std::string index_path = (fs::path(dir) / kSafetensorsIndexFile).string();
  const std::string single_path = (fs::path(dir) / kSafetensorsFile).string();
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    PONDER_ASSIGN_OR_RETURN(const std::string text, file::ReadFile(index_path));
    json index;
    try {
      index = json::parse(text);
    } catch (const json::parse_error& e) {
      return Bad(index_path, absl::StrCat("not valid JSON: ", e.what()));
    }
    auto map_it = index.is_object() ? index.find("weight_map") : index.end();
    if (map_it == index.end() || !map_it->is_object()) {
      return Bad(index_path, "needs a \"weight_map\" object {tensor name: shard file}");
    }
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;
    for (const auto& [name, file] : map_it->items()) {
      if (!file.is_string()) {
        return Bad(index_path, absl::StrCat("weight_map entry '", name, "' is not a file name"));
      }
      const std::string shard = file.get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..") {
        return Bad(index_path, absl::StrCat("weight_map entry '", name, "' names '", shard,
                                            "', which is not a file in the folder"));
      }
      auto it = shards.find(shard);
      if (it == shards.end()) {
        absl::StatusOr<SafetensorsFile> opened =
            SafetensorsFile::Open((fs::path(dir) / shard).string());
        if (!opened.ok()) {
          return Annotate(opened.status(),
                          absl::StrCat(index_path, " lists shard '", shard, "' for '", name, "'"));
        }
        it = shards.emplace(shard, std::make_shared<SafetensorsFile>(*std::move(opened))).first;
        out.shards_.push_back(it->second);
        out.files_.push_back(it->second->path());
      }
      const TensorData* tensor = it->second->Find(name);
      if (tensor == nullptr) {
        return Bad(index_path, absl::StrCat("weight_map puts tensor '", name, "' in '",
                                            it->second->path(), "', which does not contain it"));
      }
      out.tensors_[name] = tensor;
    }
    return out;
  }
  if (!fs::exists(single_path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("no ", kSafetensorsFile, " or ", kSafetensorsIndexFile, " in '", dir, "'"));
  }
  PONDER_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(single_path));
  auto shared = std::make_shared<SafetensorsFile>(std::move(file));
  out.shards_.push_back(shared);
  out.files_.push_back(shared->path());
  for (const TensorData& t : shared->tensors()) out.tensors_[t.name] = &t;
  return out;
}

const TensorData* SafetensorsCheckpoint::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsCheckpoint::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors_) names.push_back(name);
  return names;
}

absl::Status WriteSafetensorsFolder(const std::string& dir, const std::vector<TensorData>& tensors,
                                    int64_t max_shard_bytes,
                                    const std::map<std::string, std::string>& metadata) {
  uint64_t total = 0;
  for (const TensorData& t : tensors) total += t.nbytes;
  // Group into shards (one when unlimited or everything fits).
  std::vector<std::vector<const TensorData*>> groups(1);
  uint64_t current = 0;
  if (max_shard_bytes > 0 && total > static_cast<uint64_t>(max_shard_bytes)) {
    for (const TensorData& t : tensors) {
      if (!groups.back().empty() && current + t.nbytes > static_cast<uint64_t>(max_shard_bytes)) {
        groups.emplace_back();
        current = 0;
      }
      groups.back().push_back(&t);
      current += t.nbytes;
    }
  } else {
    for (const TensorData& t : tensors) groups.back().push_back(&t);
  }
  // Remove the weight files of a previous save, whatever their layout.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == kSafetensorsFile || name == kSafetensorsIndexFile ||
        (name.rfind("model-", 0) == 0 && entry.path().extension() == ".safetensors")) {
      fs::remove(entry.path(), ec);
    }
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot list '", dir, "': ", ec.message()));
  if (groups.size() == 1) {
    std::vector<TensorData> all(tensors.begin(), tensors.end());
    return WriteSafetensors((fs::path(dir) / kSafetensorsFile).string(), all, metadata);
  }
  json weight_map = json::object();
  const int n = static_cast<int>(groups.size());
  for (int i = 0; i < n; ++i) {
    std::vector<TensorData> shard;
    for (const TensorData* t : groups[i]) {
      shard.push_back(*t);
      weight_map[t->name] = ShardName(i + 1, n);
    }
    PONDER_RETURN_IF_ERROR(
        WriteSafetensors((fs::path(dir) / ShardName(i + 1, n)).string(), shard, metadata));
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string index_path = (fs::path(dir) / kSafetensorsIndexFile).string();
  return file::WriteFileAtomically(index_path, index.dump(2) + "\n");
}

}  // namespace ponder::model
