// TensorBoard event files written directly, without TensorFlow (docs/monitoring.md).
//
// An event file is a sequence of TFRecords (little-endian u64 payload length, masked CRC-32C of
// those 8 bytes, the payload, masked CRC-32C of the payload); each payload is a serialized
// tensorboard.Event. The first record carries file_version "brain.Event:2"; later ones carry a
// Summary: scalars as `simple_value`, text as a rank-0 string tensor routed to the text plugin
// (rendered as Markdown).
//
//   PONDER_ASSIGN_OR_RETURN(auto writer, TensorBoardWriter::Create("runs/tiny"));
//   PONDER_RETURN_IF_ERROR(writer->WriteScalars(step, wall_time, metrics));
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "monitor/metrics.h"

namespace ponder::monitor {

// ((crc >> 15) | (crc << 17)) + 0xa282ead8 of the CRC-32C of `data`, as TFRecord stores it.
uint32_t MaskedCrc32c(std::string_view data);
// One TFRecord around `payload`.
std::string TfRecord(std::string_view payload);

// Serialized tensorboard.Event messages.
std::string FileVersionEvent(double wall_time);
// Metrics that are not finite are written as they are (TensorBoard shows NaN and infinities).
std::string ScalarsEvent(int64_t step, double wall_time, const Metrics& metrics);
std::string TextEvent(int64_t step, double wall_time, const std::string& tag,
                      const std::string& markdown);

class TensorBoardWriter {
 public:
  // Creates `dir` if needed and a new file events.out.tfevents.<unix seconds>.<host>.<pid>.<n>
  // in it, starting with the file-version record.
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> Create(const std::string& dir);
  ~TensorBoardWriter();

  // Each call appends one event and flushes it, so that TensorBoard sees it at once.
  absl::Status WriteScalars(int64_t step, double wall_time, const Metrics& metrics);
  absl::Status WriteText(int64_t step, double wall_time, const std::string& tag,
                         const std::string& markdown);

  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  absl::Status Append(const std::string& event);

  std::string path_;
  std::FILE* file_;
};

}  // namespace ponder::monitor
