#include "trainer/checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/crc32c.h"
#include "base/file.h"
#include "base/status.h"

namespace ponder::trainer {
namespace fs = std::filesystem;

namespace {

constexpr char kManifest[] = "manifest.json";

struct FileDigest {
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

absl::StatusOr<FileDigest> Digest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  FileDigest digest;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    digest.crc32c = Crc32cExtend(digest.crc32c, buffer.data(), n);
    digest.size += n;
  }
  return digest;
}

// Files of `dir` relative to it, sorted, without the manifest.
std::vector<std::string> FilesUnder(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string relative = fs::relative(entry.path(), dir).string();
    if (relative != kManifest) files.push_back(relative);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

void CheckpointOptions::Bind(config::Binder& b) {
  b.Field("every", every).AtLeast(0);
  b.Field("keep", keep).AtLeast(0);
  b.Field("at_end", at_end);
  b.Field("on_signal", on_signal);
}

std::string CheckpointsDir(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

std::string CheckpointDir(const std::string& run_dir, int64_t step) {
  return (fs::path(CheckpointsDir(run_dir)) / absl::StrCat("step_", step)).string();
}

absl::Status WriteManifest(const std::string& dir) {
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& relative : FilesUnder(dir)) {
    PONDER_ASSIGN_OR_RETURN(FileDigest digest, Digest(fs::path(dir) / relative));
    files[relative] = {{"size", digest.size}, {"crc32c", digest.crc32c}};
  }
  return file::WriteFileAtomically((fs::path(dir) / kManifest).string(),
                                   nlohmann::json{{"files", files}}.dump(1) + "\n");
}

absl::Status VerifyManifest(const std::string& dir) {
  const fs::path path = fs::path(dir) / kManifest;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("'", dir, "' has no ", kManifest));
  nlohmann::json manifest = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.contains("files") || !manifest["files"].is_object()) {
    return absl::DataLossError(absl::StrCat("'", path.string(), "' is not a valid manifest"));
  }
  for (const auto& [relative, expected] : manifest["files"].items()) {
    const fs::path file = fs::path(dir) / relative;
    absl::StatusOr<FileDigest> digest = Digest(file);
    if (!digest.ok()) {
      return absl::DataLossError(absl::StrCat("'", file.string(), "' is missing"));
    }
    if (!expected.contains("size") || !expected.contains("crc32c")) {
      return absl::DataLossError(
          absl::StrCat("'", path.string(), "' has no size or checksum for '", relative, "'"));
    }
    if (digest->size != expected["size"].get<uint64_t>()) {
      return absl::DataLossError(absl::StrCat("'", file.string(), "' has ", digest->size,
                                              " bytes; the manifest says ",
                                              expected["size"].get<uint64_t>()));
    }
    if (digest->crc32c != expected["crc32c"].get<uint32_t>()) {
      return absl::DataLossError(
          absl::StrCat("'", file.string(), "' does not match its checksum in the manifest"));
    }
  }
  return absl::OkStatus();
}

std::vector<int64_t> ListCheckpoints(const std::string& run_dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(CheckpointsDir(run_dir), ec)) {
    if (!entry.is_directory()) continue;
    const std::string filename = entry.path().filename().string();
    absl::string_view name = filename;
    int64_t step = 0;
    if (absl::ConsumePrefix(&name, "step_") && absl::SimpleAtoi(name, &step)) {
      steps.push_back(step);
    }
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

absl::StatusOr<int64_t> LatestValidCheckpoint(const std::string& run_dir,
                                              std::vector<std::string>* skipped) {
  for (int64_t step : ListCheckpoints(run_dir)) {
    absl::Status status = VerifyManifest(CheckpointDir(run_dir, step));
    if (status.ok()) return step;
    std::string reason =
        absl::StrCat("skipping checkpoint ", CheckpointDir(run_dir, step), ": ", status.message());
    spdlog::warn("{}", reason);
    if (skipped != nullptr) skipped->push_back(std::move(reason));
  }
  return absl::NotFoundError(
      absl::StrCat("no complete checkpoint in '", CheckpointsDir(run_dir), "'"));
}

absl::Status CommitCheckpoint(const std::string& run_dir, const std::string& tmp_dir, int64_t step,
                              int64_t keep) {
  PONDER_RETURN_IF_ERROR(WriteManifest(tmp_dir));
  const std::string final_dir = CheckpointDir(run_dir, step);
  std::error_code ec;
  fs::remove_all(final_dir, ec);
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot rename '", tmp_dir, "' to '", final_dir, "': ", ec.message()));
  }
  if (keep > 0) {
    std::vector<int64_t> steps = ListCheckpoints(run_dir);
    for (size_t i = static_cast<size_t>(keep); i < steps.size(); ++i) {
      fs::remove_all(CheckpointDir(run_dir, steps[i]), ec);
    }
  }
  for (const auto& entry : fs::directory_iterator(CheckpointsDir(run_dir), ec)) {
    if (entry.path().extension() == ".tmp") fs::remove_all(entry.path(), ec);
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
