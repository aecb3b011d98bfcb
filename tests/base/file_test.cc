#include "base/file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace ponder::file {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ponder_file_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(FileTest, WriteAtomicallyThenReadBack) {
  const std::string path = Path("a.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "first\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path, std::string("second\0bytes", 12)).ok());
  absl::StatusOr<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, std::string("second\0bytes", 12));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(FileTest, AppendLineAddsLines) {
  const std::string path = Path("log.jsonl");
  ASSERT_TRUE(AppendLine(path, "{\"a\": 1}").ok());
  ASSERT_TRUE(AppendLine(path, "{\"a\": 2}").ok());
  EXPECT_EQ(*ReadFile(path), "{\"a\": 1}\n{\"a\": 2}\n");
}

TEST_F(FileTest, ErrorsNameThePathAndTheReason) {
  absl::StatusOr<std::string> missing = ReadFile(Path("missing.txt"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "cannot read '" + Path("missing.txt") + "': No such file or directory");
  EXPECT_EQ(ReadFile(Path("missing.txt"), "config file").status().message(),
            "cannot read config file '" + Path("missing.txt") + "': No such file or directory");
  EXPECT_THAT(std::string(ReadFile(dir_.string()).status().message()),
              HasSubstr("cannot read '" + dir_.string() + "': Is a directory"));

  const std::string nowhere = Path("no/such/dir/a.txt");
  absl::Status s = WriteFileAtomically(nowhere, "x");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("cannot write '" + nowhere + ".tmp': No such file or directory"));
  s = AppendLine(nowhere, "x");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("cannot append to '" + nowhere + "': No such file or directory"));

  // A write that fails after the file opened (a full disk) is caught, not lost.
  s = AppendLine("/dev/full", "x");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("cannot append to '/dev/full': No space left on device"));

  // Renaming over a directory fails: the directory stays and the temporary is removed.
  fs::create_directories(Path("taken"));
  s = WriteFileAtomically(Path("taken"), "x");
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot replace '" + Path("taken") + "'"));
  EXPECT_FALSE(fs::exists(Path("taken") + ".tmp"));
  EXPECT_TRUE(fs::is_directory(Path("taken")));
}

}  // namespace
}  // namespace ponder::file
