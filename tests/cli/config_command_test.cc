// The `ponder` binary as a user runs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/str_split.h"
#include "tests/testing.h"

namespace ponder {
namespace {

using ::testing::AllOf;
using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::SourcePath;

std::string Ponder() { return BinaryPath("cli/ponder"); }

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliTest, HelpListsSubcommands) {
  testing::CommandResult r = RunCommand(Ponder() + " --help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("--version"), HasSubstr("--log-level")));
  for (const char* command : {"config", "train", "sft", "eval", "demo", "rollout", "reward",
                              "verify", "generate", "tokenize"}) {
    EXPECT_THAT(r.out, ::testing::ContainsRegex(std::string("\n  ") + command + " ")) << command;
  }
}

TEST(CliTest, Version) {
  testing::CommandResult r = RunCommand(Ponder() + " --version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("ponder 0."));
}

TEST(CliTest, ConfigCheckPrintsEveryShippedConfigResolved) {
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("configs"))) {
    if (entry.path().extension() != ".yaml") continue;
    testing::CommandResult r = RunCommand(Ponder() + " config check " + entry.path().string());
    EXPECT_EQ(r.exit_code, 0) << entry.path() << ": " << r.err;
    EXPECT_THAT(r.out, AllOf(HasSubstr("run:"), HasSubstr("seed:"), HasSubstr("log_level:")))
        << entry.path();
  }
}

TEST(CliTest, ConfigCheckAppliesOverrides) {
  testing::CommandResult r =
      RunCommand(Ponder() + " config check " + SourcePath("configs/tiny.yaml") + " run.seed=42");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("seed: 42"));
}

TEST(CliTest, ConfigCheckRejectsBadFiles) {
  std::string unknown = WriteTemp("unknown.yaml", "run:\n  sed: 3\n");
  testing::CommandResult r = RunCommand(Ponder() + " config check " + unknown);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr(unknown + ":2:3: unknown key 'run.sed'; did you mean 'run.seed'?"));

  std::string wrong_type = WriteTemp("wrong_type.yaml", "run:\n  seed: abc\n");
  r = RunCommand(Ponder() + " config check " + wrong_type);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr(wrong_type + ":2:9: run.seed expects an integer, got 'abc'"));

  std::string range = WriteTemp("range.yaml", "run:\n  seed: -4\n");
  r = RunCommand(Ponder() + " config check " + range);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("run.seed must be >= 0 (got -4)"));

  std::string malformed = WriteTemp("malformed.yaml", "run: {seed: 1\n");
  r = RunCommand(Ponder() + " config check " + malformed);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, AllOf(HasSubstr(malformed + ":"), HasSubstr("malformed YAML")));

  r = RunCommand(Ponder() + " config check /nonexistent.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("cannot read config file '/nonexistent.yaml'"));

  r = RunCommand(Ponder() + " config check " + SourcePath("configs/tiny.yaml") + " run.sede=1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("command-line override 'run.sede=1': unknown key 'run.sede'"));
}

// docs/config-reference.md is `ponder config reference`'s output: when an options struct
// changes, regenerate it (the command is in the file's first lines).
TEST(CliTest, ConfigReferenceMatchesTheCheckedInDocument) {
  testing::CommandResult r = RunCommand(Ponder() + " config reference");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("| `trainer.lr` | number | `1e-06` | > 0 |"),
                           HasSubstr("## `sft`"), HasSubstr("### `math`")));
  EXPECT_TRUE(r.out == testing::ReadFile(SourcePath("docs/config-reference.md")))
      << "docs/config-reference.md is out of date; regenerate it with\n  "
         "build/cli/ponder config reference > docs/config-reference.md";
}

TEST(CliTest, ConfigReferenceNamesHeadersThatExist) {
  testing::CommandResult r = RunCommand(Ponder() + " config reference");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::regex explained("Explained in ([^\\n]+)\\.\\n");
  int sections = 0;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), explained), end; it != end; ++it) {
    for (const auto& header : absl::StrSplit((*it)[1].str(), ", ")) {
      EXPECT_TRUE(std::filesystem::exists(SourcePath(std::string(header)))) << header;
    }
    ++sections;
  }
  EXPECT_GE(sections, 10);
}

TEST(CliTest, DemoRefusesARunDirectoryItDidNotMake) {
  const std::string dir = ::testing::TempDir() + "not_a_demo";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/keep.txt") << "user data\n";
  testing::CommandResult r = RunCommand(Ponder() + " demo --no-browser --run-dir " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--run-dir " + dir +
                               " exists and is not an earlier demo's; choose another directory"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/keep.txt"));

  r = RunCommand(Ponder() + " demo --no-browser --run-dir " + dir + "x run.sede=2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown key 'run.sede'; did you mean 'run.seed'?"));

  r = RunCommand(Ponder() + " demo --minutes 0.2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--minutes"));

  r = RunCommand(Ponder() + " demo --port 70000");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--port"));
}

TEST(CliTest, UnknownLogLevelIsRejected) {
  testing::CommandResult r = RunCommand(Ponder() + " --log-level loud config check x.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("unknown log level 'loud'"));
}

}  // namespace
}  // namespace ponder
