#include "monitor/tensorboard.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/crc32c.h"
#include "base/status.h"
#include "monitor/internal/proto_wire.h"

namespace ponder::monitor {
namespace {

using internal::ProtoWriter;

// Field numbers of tensorboard/compat/proto/{event,summary,tensor,tensor_shape}.proto.
constexpr int kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1, kValueSimpleValue = 2, kValueTensor = 8, kValueMetadata = 9;
constexpr int kMetadataPluginData = 1, kPluginName = 1;
constexpr int kTensorDtype = 1, kTensorShape = 2, kTensorStringVal = 8;
constexpr uint64_t kDtString = 7;

std::string SummaryEvent(int64_t step, double wall_time, const ProtoWriter& summary) {
  ProtoWriter event;
  event.Double(kEventWallTime, wall_time)
      .Varint(kEventStep, static_cast<uint64_t>(step))
      .Message(kEventSummary, summary);
  return event.bytes();
}

}  // namespace

uint32_t MaskedCrc32c(std::string_view data) {
  const uint32_t crc = Crc32c(data.data(), data.size());
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string TfRecord(std::string_view payload) {
  std::string length(8, '\0');
  const uint64_t size = payload.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  auto le32 = [](uint32_t v) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return out;
  };
  std::string record = length + le32(MaskedCrc32c(length));
  record.append(payload.data(), payload.size());
  return record + le32(MaskedCrc32c(payload));
}

std::string FileVersionEvent(double wall_time) {
  ProtoWriter event;
  event.Double(kEventWallTime, wall_time).String(kEventFileVersion, "brain.Event:2");
  return event.bytes();
}

std::string ScalarsEvent(int64_t step, double wall_time, const Metrics& metrics) {
  ProtoWriter summary;
  for (const auto& [name, value] : metrics) {
    ProtoWriter v;
    v.String(kValueTag, name).Float(kValueSimpleValue, static_cast<float>(value));
    summary.Message(kSummaryValue, v);
  }
  return SummaryEvent(step, wall_time, summary);
}

std::string TextEvent(int64_t step, double wall_time, const std::string& tag,
                      const std::string& markdown) {
  ProtoWriter plugin;
  plugin.String(kPluginName, "text");
  ProtoWriter metadata;
  metadata.Message(kMetadataPluginData, plugin);
  ProtoWriter tensor;
  tensor.Varint(kTensorDtype, kDtString)
      .Message(kTensorShape, ProtoWriter())  // rank 0: one Markdown string
      .String(kTensorStringVal, markdown);
  ProtoWriter value;
  value.String(kValueTag, tag).Message(kValueMetadata, metadata).Message(kValueTensor, tensor);
  ProtoWriter summary;
  summary.Message(kSummaryValue, value);
  return SummaryEvent(step, wall_time, summary);
}

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::Create(
    const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create TensorBoard directory '", dir, "': ", ec.message()));
  }
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string path =
      (std::filesystem::path(dir) /
       absl::StrCat("events.out.tfevents.",
                    std::chrono::duration_cast<std::chrono::seconds>(now).count(), ".", host, ".",
                    getpid(), ".", counter++))
          .string();
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create '", path, "': ", std::strerror(errno)));
  }
  std::unique_ptr<TensorBoardWriter> writer(new TensorBoardWriter(path, file));
  PONDER_RETURN_IF_ERROR(
      writer->Append(FileVersionEvent(std::chrono::duration<double>(now).count())));
  return writer;
}

TensorBoardWriter::~TensorBoardWriter() { std::fclose(file_); }

absl::Status TensorBoardWriter::Append(const std::string& event) {
  const std::string record = TfRecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0) {
    return absl::InternalError(absl::StrCat("cannot write '", path_, "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status TensorBoardWriter::WriteScalars(int64_t step, double wall_time,
                                             const Metrics& metrics) {
  return Append(ScalarsEvent(step, wall_time, metrics));
}

absl::Status TensorBoardWriter::WriteText(int64_t step, double wall_time, const std::string& tag,
                                          const std::string& markdown) {
  return Append(TextEvent(step, wall_time, tag, markdown));
}

}  // namespace ponder::monitor
