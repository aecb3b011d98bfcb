// The `ponder` binary as a user runs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
  for (const char* command :
       {"config", "train", "sft", "eval", "rollout", "reward", "verify", "generate", "tokenize"}) {
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

TEST(CliTest, UnknownLogLevelIsRejected) {
  testing::CommandResult r = RunCommand(Ponder() + " --log-level loud config check x.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("unknown log level 'loud'"));
}

}  // namespace
}  // namespace ponder
