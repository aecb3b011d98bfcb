// TensorBoard event files: byte-exact records against the test vectors in docs/monitoring.md
// (computed by an independent implementation), and whole files read back by an independent
// reader (tests/monitor/read_tfevents.py: bitwise CRC-32C and the real protobuf runtime).
#include "monitor/tensorboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testing.h"

namespace ponder::monitor {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

TEST(TfRecordTest, MatchesTheReferenceVectors) {
  EXPECT_EQ(Hex(TfRecord(FileVersionEvent(1.0))),
            "1800000000000000a37f4b22"
            "09000000000000f03f1a0d627261696e2e4576656e743a32"
            "86bf577a");
  EXPECT_EQ(Hex(TfRecord(ScalarsEvent(1, 1.0, {{"a", 0.5}}))),
            "1700000000000000e7cef81e"
            "09000000000000f03f10012a0a0a080a0161150000003f"
            "5ca8c137");
  EXPECT_EQ(Hex(TfRecord(TextEvent(2, 1.0, "t", "hi"))),
            "2600000000000000734fe300"
            "09000000000000f03f10022a190a170a01744a080a060a047465787442080807120042026869"
            "36bb0e56");
}

TEST(TfRecordTest, MaskedCrcOfTheCheckString) {
  // crc32c("123456789") = 0xE3069283; masked: rotate right by 15, add 0xa282ead8.
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(MaskedCrc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

struct ReadBack {
  int exit_code;
  std::vector<nlohmann::json> events;
  std::string err;
};

ReadBack ReadWithReference(const std::string& path) {
  testing::CommandResult r = testing::RunCommand(
      "/usr/bin/python3 " + testing::SourcePath("tests/monitor/read_tfevents.py") + " " + path);
  ReadBack out{r.exit_code, {}, r.err};
  size_t start = 0, nl;
  while ((nl = r.out.find('\n', start)) != std::string::npos) {
    out.events.push_back(nlohmann::json::parse(r.out.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  return dir;
}

TEST(TensorBoardWriterTest, ScalarsAndTextReadBackByTheReferenceReader) {
  const std::string dir = FreshDir("tb_writer");
  auto writer = TensorBoardWriter::Create(dir);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const std::string path = (*writer)->path();
  EXPECT_THAT(fs::path(path).filename().string(), HasSubstr("events.out.tfevents."));
  ASSERT_TRUE((*writer)
                  ->WriteScalars(1, 1700000000.25,
                                 {{"reward/score/mean", 0.75},
                                  {"val/arith/mean@4", 0.125},
                                  {"timing/step_s", 12.5},
                                  {"actor/grad_norm", std::nan("")}})
                  .ok());
  const std::string markdown = "**reward 1** | `x`\n\n    2+3=5\n\nünïcode ✓";
  ASSERT_TRUE((*writer)->WriteText(1, 1700000000.5, "samples", markdown).ok());
  ASSERT_TRUE((*writer)->WriteScalars(2, 1700000001.0, {{"reward/score/mean", -3.5}}).ok());
  writer->reset();

  ReadBack back = ReadWithReference(path);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  ASSERT_EQ(back.events.size(), 4u);
  EXPECT_EQ(back.events[0]["file_version"], "brain.Event:2");
  EXPECT_GT(back.events[0]["wall_time"].get<double>(), 1.6e9);

  const nlohmann::json& first = back.events[1];
  EXPECT_EQ(first["step"], 1);
  EXPECT_EQ(first["wall_time"], 1700000000.25);
  EXPECT_EQ(first["scalars"]["reward/score/mean"], 0.75);
  EXPECT_EQ(first["scalars"]["val/arith/mean@4"], 0.125);
  EXPECT_EQ(first["scalars"]["timing/step_s"], 12.5);
  EXPECT_EQ(first["scalars"].size(), 4u);
  EXPECT_EQ(first["scalars"]["actor/grad_norm"], "nan");

  EXPECT_EQ(back.events[2]["step"], 1);
  EXPECT_EQ(back.events[2]["texts"]["samples"], markdown);
  EXPECT_EQ(back.events[3]["step"], 2);
  EXPECT_EQ(back.events[3]["scalars"]["reward/score/mean"], -3.5);
}

TEST(TensorBoardWriterTest, TheReferenceReaderCatchesACorruptByte) {
  const std::string dir = FreshDir("tb_corrupt");
  auto writer = TensorBoardWriter::Create(dir);
  ASSERT_TRUE(writer.ok());
  const std::string path = (*writer)->path();
  ASSERT_TRUE((*writer)->WriteScalars(1, 1.0, {{"a", 0.5}}).ok());
  writer->reset();
  std::string bytes = testing::ReadFile(path);
  // The scalar record starts after the 40-byte first record; flip a bit of its payload.
  bytes[40 + 12 + 5] ^= 0x01;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  ReadBack back = ReadWithReference(path);
  EXPECT_EQ(back.exit_code, 1);
  EXPECT_THAT(back.err, HasSubstr("record 1: bad payload CRC"));
}

TEST(TensorBoardWriterTest, AnUnwritableDirectoryIsAnError) {
  const std::string file = ::testing::TempDir() + "/tb_not_a_dir";
  std::ofstream(file) << "x";
  auto writer = TensorBoardWriter::Create(file + "/sub");
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr("cannot create TensorBoard directory"));
  EXPECT_THAT(writer.status().message(), HasSubstr("tb_not_a_dir/sub"));
}

}  // namespace
}  // namespace ponder::monitor
