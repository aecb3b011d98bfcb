// The example jobs of configs/ run: one RL step each, with the small models of tests/data in
// place of the real ones they name (a llama2.c model and its sentencepiece tokenizer, on the
// CPU) and the sample data of tests/data/trainer. `ponder config check` of every config is in
// config_command_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/skip.h"
#include "tests/testing.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;

std::string Ponder() { return pt::BinaryPath("cli/ponder"); }

// Overrides that make a real-model example job run one small step here.
std::vector<std::string> OneSmallStep(const std::string& run_dir, const std::string& data) {
  const std::string model = pt::SourcePath("tests/data/model/stories260K/stories260K.bin");
  const std::string tokenizer = pt::SourcePath("tests/data/model/stories260K/tok512.bin");
  return {"run.dir=" + run_dir,
          "model.path=" + model,
          "model.tokenizer=" + tokenizer,
          "model.device=cpu",
          "model.dtype=float32",
          "model.chat_template.format=plain",
          "data.train_files=[" + data + "]",
          "data.val_files=[" + data + "]",
          "data.train_batch_size=2",
          "rollout.n=2",
          "rollout.max_seq_len=512",
          "rollout.kv_cache_bytes=33554432",
          "rollout.sampling.max_new_tokens=24",
          "trainer.steps=1",
          "trainer.ppo_mini_batch_size=0",
          "eval.before_train=false",
          "eval.k=2",
          "eval.max_prompts=2",
          "checkpoint.every=0",
          "checkpoint.at_end=false"};
}

// The metrics of step 1 (the training line, not the evaluation's).
nlohmann::json StepOne(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (record["step"] == 1 && record["metrics"].contains("reward/score/mean")) {
      return record["metrics"];
    }
  }
  return nullptr;
}

class ExampleConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/ponder_example_configs_XXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  pt::CommandResult Train(const std::string& config, const std::vector<std::string>& overrides) {
    return pt::RunCommand(absl::StrCat(Ponder(), " train --config ", pt::SourcePath(config), " ",
                                       absl::StrJoin(overrides, " ")));
  }
  std::string dir_;
};

TEST_F(ExampleConfigTest, Gsm8kRunsAStepWithTheMathVerifier) {
  const std::string run = dir_ + "/gsm8k";
  pt::CommandResult r =
      Train("configs/gsm8k.yaml",
            OneSmallStep(run, pt::SourcePath("tests/data/trainer/gsm8k_verl.jsonl")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json metrics = StepOne(run);
  ASSERT_TRUE(metrics.is_object());
  EXPECT_EQ(metrics["train/batch_samples"], 4);
  EXPECT_TRUE(metrics.contains("reward/math/mean"));
}

TEST_F(ExampleConfigTest, MbppRunsAStepWithTheCodeVerifier) {
  if (geteuid() != 0) PONDER_SKIP_OR_FAIL("the code sandbox needs root");
  const std::string run = dir_ + "/mbpp";
  std::vector<std::string> overrides =
      OneSmallStep(run, pt::SourcePath("tests/data/trainer/mbpp_verl.jsonl"));
  // The stand-in story model writes no passing program: every group scores all zeros, which
  // the dapo preset's dynamic sampling would drop until it gives up.
  overrides.push_back("algorithm.filter_groups.enable=false");
  pt::CommandResult r = Train("configs/mbpp_code.yaml", overrides);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json metrics = StepOne(run);
  ASSERT_TRUE(metrics.is_object());
  EXPECT_TRUE(metrics.contains("reward/code/mean"));
  EXPECT_EQ(metrics["train/batch_samples"], 4);
}

TEST_F(ExampleConfigTest, RemoteWorkersRunAStepThroughRolloutAndRewardServers) {
  const std::string run = dir_ + "/remote";
  const std::string data = pt::SourcePath("tests/data/trainer/gsm8k_verl.jsonl");
  std::vector<std::string> overrides = OneSmallStep(run, data);
  // The workers read the same file with the same overrides, so both ends agree.
  std::vector<std::string> rollout_args = {
      Ponder(),      "rollout",  "--listen",
      "127.0.0.1:0", "--config", pt::SourcePath("configs/remote_workers.yaml")};
  rollout_args.insert(rollout_args.end(), overrides.begin(), overrides.end());
  pt::Server rollout(rollout_args, dir_ + "/rollout.out");
  ASSERT_FALSE(rollout.address.empty()) << pt::ReadFile(dir_ + "/rollout.out.err");
  pt::Server reward({Ponder(), "reward", "--listen", "127.0.0.1:0", "--config",
                     pt::SourcePath("configs/remote_workers.yaml")},
                    dir_ + "/reward.out");
  ASSERT_FALSE(reward.address.empty()) << pt::ReadFile(dir_ + "/reward.out.err");

  overrides.push_back("rollout.addresses=[" + rollout.address + "]");
  overrides.push_back("reward.addresses=[" + reward.address + "]");
  pt::CommandResult r = Train("configs/remote_workers.yaml", overrides);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json metrics = StepOne(run);
  ASSERT_TRUE(metrics.is_object());
  EXPECT_EQ(metrics["train/batch_samples"], 4);
  EXPECT_TRUE(metrics.contains("reward/math/mean"));
}

}  // namespace
}  // namespace ponder
