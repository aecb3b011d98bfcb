// deploy/local/run.sh: one command runs a job as a trainer, rollout workers and reward servers
// on this machine (configs/tiny.yaml, whose model is built from model.init: the workers start
// with fresh weights and get the trainer's before any work), and says what is wrong with its
// arguments.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tests/trainer/train_testing.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using ::testing::HasSubstr;

std::string Script() { return pt::SourcePath("deploy/local/run.sh"); }

TEST(DeployLocalTest, OneCommandRunsATrainerTwoRolloutWorkersAndARewardServer) {
  std::string pattern = "/tmp/ponder_deploy_local_XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string dir = pattern;
  pt::CommandResult r = pt::RunCommand(
      absl::StrCat(Script(), " --config ", pt::TinyConfig(), " --rollout 2 --reward 1 --ponder ",
                   pt::Ponder(), " --logs ", dir, "/logs -- run.dir=", dir,
                   "/run trainer.steps=2 eval.every=0 eval.at_end=false checkpoint.at_end=false"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(pt::ReadJsonLines(dir + "/run/metrics.jsonl").size(), 2u);
  nlohmann::json workers = nlohmann::json::parse(pt::ReadFile(dir + "/run/workers.json"));
  int rollout = 0, reward = 0;
  for (const nlohmann::json& w : workers.at("workers")) {
    EXPECT_EQ(w.at("state"), "alive") << w.dump();
    rollout += w.at("role") == "rollout" ? 1 : 0;
    reward += w.at("role") == "reward" ? 1 : 0;
  }
  EXPECT_EQ(rollout, 2);
  EXPECT_EQ(reward, 1);
  for (const char* log : {"rollout-0.log", "rollout-1.log", "reward-0.log"}) {
    EXPECT_THAT(pt::ReadFile(absl::StrCat(dir, "/logs/", log)),
                HasSubstr("listening on 127.0.0.1:"))
        << log;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(DeployLocalTest, BadArgumentsAreNamed) {
  pt::CommandResult r = pt::RunCommand(Script() + " --rollout 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--config JOB.yaml is required"));
  r = pt::RunCommand(Script() + " --config nowhere.yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no such job file 'nowhere.yaml'"));
  r = pt::RunCommand(absl::StrCat(Script(), " --config ", pt::TinyConfig(), " --rollout two"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--rollout and --reward take a count"));
  r = pt::RunCommand(absl::StrCat(Script(), " --config ", pt::TinyConfig(), " --ponder nowhere"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no ponder binary at 'nowhere'"));
}

}  // namespace
}  // namespace ponder
