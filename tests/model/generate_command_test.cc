// `ponder generate` as a user runs it, on llama2.c's stories260K.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing.h"

namespace ponder {
namespace {

using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::SourcePath;

std::string Generate(const std::string& args) {
  return BinaryPath("cli/ponder") + " generate --model " +
         SourcePath("tests/data/model/stories260K/stories260K.bin") + " --tokenizer " +
         SourcePath("tests/data/model/stories260K/tok512.bin") + " " + args;
}

TEST(GenerateCommandTest, GreedyFromBosPrintsLlama2csPublishedText) {
  nlohmann::json ref = nlohmann::json::parse(
      testing::ReadFile(SourcePath("tests/data/model/stories260K/reference_outputs.json")));
  const std::string expected = ref["published"][0]["expected_text"];
  // llama2.c's `-n 200` runs 200 positions from BOS, sampling after each: 200 new tokens.
  testing::CommandResult r =
      RunCommand(Generate("--prompt '' --temperature 0 --max-new-tokens 200"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
}

TEST(GenerateCommandTest, ContinuesAPromptWithoutRepeatingIt) {
  // The greedy continuation of "Once upon a time" (llama2.c ids 432 383 286 261 = ", there was a").
  testing::CommandResult r =
      RunCommand(Generate("--prompt 'Once upon a time' --temperature 0 --max-new-tokens 4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ", there was a");
}

TEST(GenerateCommandTest, SamplingIsReproducibleFromTheSeed) {
  testing::CommandResult a = RunCommand(Generate("--prompt '' --seed 5 --max-new-tokens 40"));
  testing::CommandResult b = RunCommand(Generate("--prompt '' --seed 5 --max-new-tokens 40"));
  testing::CommandResult c = RunCommand(Generate("--prompt '' --seed 6 --max-new-tokens 40"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_FALSE(a.out.empty());
}

TEST(GenerateCommandTest, BadArgumentsAreNamed) {
  testing::CommandResult r =
      RunCommand(BinaryPath("cli/ponder") + " generate --model /nonexistent.bin --tokenizer " +
                 SourcePath("tests/data/model/stories260K/tok512.bin") + " --prompt hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("ponder generate: no model at '/nonexistent.bin'"));
  r = RunCommand(BinaryPath("cli/ponder") + " generate --model " +
                 SourcePath("tests/data/model/stories260K/stories260K.bin") + " --prompt hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("no tokenizer found for"));
  r = RunCommand(Generate("--prompt '' --max-new-tokens 600"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("the prompt (1 tokens) plus max_new_tokens (600) exceed the "
                               "model's context of 512 tokens"));
  r = RunCommand(Generate("--prompt x --top-p 2"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--top-p"));
}

}  // namespace
}  // namespace ponder
