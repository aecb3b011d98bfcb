// `ponder tokenize` as a user runs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/testing.h"

namespace ponder {
namespace {

using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::SourcePath;

// The ponder binary of the same build tree as this test (build-x/tests/model/ -> build-x/cli/),
// so that the test does not depend on PONDER_BINARY_DIR being passed through.
std::string Ponder() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return BinaryPath("cli/ponder");
  return (self.parent_path().parent_path().parent_path() / "cli" / "ponder").string();
}
std::string Tok512() { return SourcePath("tests/data/tokenizer/stories260K/tok512.bin"); }

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(TokenizeCommandTest, EncodesTextAsJsonIds) {
  // llama2.c encodes "Once upon a time" after BOS as 403 407 261 378.
  testing::CommandResult r = RunCommand(Ponder() + " tokenize --tokenizer " + Tok512() +
                                        " --text 'Once upon a time' --bos");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 403, 407, 261, 378]\n");
}

TEST(TokenizeCommandTest, OneLinePerInputLineAndDecodeReverses) {
  std::string input = WriteTemp("tokenize_in.txt", "Once upon a time\n\nLily \xF0\x9F\xA6\x99\n");
  testing::CommandResult r =
      RunCommand(Ponder() + " tokenize --tokenizer " + Tok512() + " --input " + input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("[403, 407, 261, 378]\n[]\n["));
  std::string ids = WriteTemp("tokenize_ids.txt", r.out);
  r = RunCommand(Ponder() + " tokenize --tokenizer " + Tok512() + " --decode --input " + ids);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time\n\nLily \xF0\x9F\xA6\x99\n");

  r = RunCommand(Ponder() + " tokenize --tokenizer chars:0123456789+= --text '1+2=' --bos");
  EXPECT_EQ(r.out, "[1, 4, 13, 5, 14]\n");
}

TEST(TokenizeCommandTest, BadInputIsReportedWithItsLine) {
  std::string ids = WriteTemp("tokenize_bad_ids.txt", "[403]\n[403, 9999]\n");
  testing::CommandResult r =
      RunCommand(Ponder() + " tokenize --tokenizer " + Tok512() + " --decode --input " + ids);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(ids + ":2: token id 9999 is outside the vocabulary of 512"));

  std::string not_json = WriteTemp("tokenize_not_json.txt", "403 407\n");
  r = RunCommand(Ponder() + " tokenize --tokenizer " + Tok512() + " --decode --input " + not_json);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(not_json + ":1: expected a JSON array of token ids"));

  r = RunCommand(Ponder() + " tokenize --tokenizer chars:0123 --text '12x'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--text: character 'x' (U+0078) at byte 2 is not in the"));

  r = RunCommand(Ponder() + " tokenize --tokenizer /nonexistent.model --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tokenizer '/nonexistent.model' does not exist"));

  r = RunCommand(Ponder() + " tokenize --tokenizer " + Tok512());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("give --text TEXT or --input FILE"));
}

}  // namespace
}  // namespace ponder
