// `ponder train` in asynchronous mode (trainer.mode: async) on configs/tiny.yaml, in process:
// no trained sample is older than max_staleness, partial rollouts span versions (and those
// too old are dropped and counted), and a run killed and resumed gives bitwise the same
// weights, metrics and samples as one that was not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tests/trainer/train_testing.h"

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using nlohmann::json;
using ::testing::HasSubstr;

class AsyncTest : public pt::TrainRunTest {};

// The oldest version among a sample's tokens, and how many versions made them.
std::pair<int64_t, size_t> OldestAndSpan(const json& sample) {
  int64_t oldest = sample.at("weight_version").get<int64_t>();
  std::set<int64_t> versions;
  for (const json& s : sample.at("segments")) {
    oldest = std::min(oldest, s.at(0).get<int64_t>());
    versions.insert(s.at(0).get<int64_t>());
  }
  return {oldest, versions.size()};
}

constexpr char kAsync[] =
    "trainer.mode=async trainer.recompute_logprobs=false trainer.steps=6 eval.every=0 "
    "eval.at_end=false checkpoint.at_end=false monitor.max_samples_per_step=-1 run.threads=1 ";

TEST_F(AsyncTest, NoTrainedSampleIsOlderThanMaxStaleness) {
  pt::CommandResult r =
      Train("run", absl::StrCat(kAsync, "trainer.max_staleness=2 trainer.rollout_ahead=2"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int64_t, json> metrics = pt::DeterministicMetrics(Path("run"));
  ASSERT_EQ(metrics.size(), 6u);
  for (int64_t step = 1; step <= 6; ++step) {
    // Step k (from 1) trains with version k - 1 on a batch issued at the start of step
    // k - 2 with the newest weights then (version 0 for the first three).
    const int64_t want = std::min<int64_t>(step - 1, 2);
    std::vector<json> samples =
        pt::ReadJsonLines(absl::StrCat(Path("run"), "/samples/step_", step, ".jsonl"));
    ASSERT_EQ(samples.size(), 32u) << step;
    for (const json& s : samples) {
      const int64_t staleness = (step - 1) - OldestAndSpan(s).first;
      EXPECT_LE(staleness, 2) << "step " << step;
      EXPECT_EQ(staleness, want) << "step " << step;
    }
    const json& m = metrics.at(step);
    EXPECT_EQ(m.at("rollout/staleness/max").get<double>(), static_cast<double>(want));
    EXPECT_EQ(m.at(absl::StrCat("rollout/staleness/count_", want)).get<double>(), 32.0);
    EXPECT_EQ(m.at("rollout/dropped_stale").get<double>(), 0.0);
    EXPECT_EQ(m.at("rollout/versions_per_sample/max").get<double>(), 1.0);
  }
  // The roles' idle time is measured (timing/ is not among the deterministic metrics).
  std::vector<json> lines = pt::ReadJsonLines(Path("run") + "/metrics.jsonl");
  EXPECT_TRUE(lines.back().at("metrics").contains("timing/idle_s/trainer"));
  EXPECT_TRUE(lines.back().at("metrics").contains("timing/idle_s/rollout"));
}

// Partial rollouts resumed in a later batch carry tokens of two versions; with
// max_staleness 1 such samples (oldest token two versions behind) are dropped, with 2 kept.
TEST_F(AsyncTest, PartialRolloutsSpanVersionsAndTooOldOnesAreDropped) {
  const std::string partial =
      absl::StrCat(kAsync, "trainer.rollout_ahead=1 rollout.sampling.round_token_budget=3 ",
                   "rollout.sampling.max_new_tokens=8 rollout.max_seq_len=32");
  pt::CommandResult kept = Train("kept", partial + " trainer.max_staleness=2");
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  size_t spanning = 0;
  for (int step = 1; step <= 6; ++step) {
    for (const json& s :
         pt::ReadJsonLines(absl::StrCat(Path("kept"), "/samples/step_", step, ".jsonl"))) {
      auto [oldest, span] = OldestAndSpan(s);
      EXPECT_LE((step - 1) - oldest, 2) << "step " << step;
      spanning += span > 1 ? 1 : 0;
    }
  }
  EXPECT_GT(spanning, 0u) << "no sample resumed with newer weights";

  pt::CommandResult dropped = Train("dropped", partial + " trainer.max_staleness=1");
  ASSERT_EQ(dropped.exit_code, 0) << dropped.err;
  double count = 0;
  for (const auto& [step, m] : pt::DeterministicMetrics(Path("dropped"))) {
    count += m.at("rollout/dropped_stale").get<double>();
    for (const json& s :
         pt::ReadJsonLines(absl::StrCat(Path("dropped"), "/samples/step_", step, ".jsonl"))) {
      EXPECT_LE((step - 1) - OldestAndSpan(s).first, 1) << "step " << step;
    }
  }
  EXPECT_GT(count, 0.0);
}

TEST_F(AsyncTest, ResumeAfterSigkillIsExact) {
  const std::string overrides =
      "run.threads=1 trainer.steps=6 checkpoint.every=3 checkpoint.keep=0 eval.every=3 "
      "rollout.n=8 data.train_batch_size=16 trainer.mode=async trainer.max_staleness=1 "
      "trainer.rollout_ahead=1 algorithm.rollout_correction.name=tis";
  pt::CommandResult whole = Train("whole", overrides);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const std::string cut = Path("cut");
  pid_t pid = pt::Spawn(pt::TrainArgs(cut, overrides), Path("cut.log"));
  ASSERT_GT(pid, 0);
  const fs::path step3 = fs::path(cut) / "checkpoints" / "step_3";
  bool killed = false;
  for (int i = 0; i < 60000 && !killed; ++i) {  // up to 5 minutes on a busy machine
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (fs::exists(step3)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      killed = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ASSERT_TRUE(killed) << pt::ReadFile(Path("cut.log"));
  ASSERT_FALSE(fs::exists(fs::path(cut) / "checkpoints" / "step_6"));
  // The checkpoint keeps the batch issued for step 4, generated and scored.
  EXPECT_TRUE(fs::exists(step3 / "in_flight.json"));

  pt::CommandResult resumed = pt::RunCommand(absl::StrCat(pt::Ponder(), " train --resume ", cut));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;

  const std::string weights = "/checkpoints/step_6/policy/model.safetensors";
  const std::string a = pt::ReadFile(Path("whole") + weights);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == pt::ReadFile(cut + weights)) << "final weights differ after resume";
  std::map<int64_t, json> want = pt::DeterministicMetrics(Path("whole"));
  std::map<int64_t, json> got = pt::DeterministicMetrics(cut);
  ASSERT_EQ(got.size(), 6u);
  for (int64_t step = 4; step <= 6; ++step) {
    EXPECT_EQ(got.at(step), want.at(step)) << "step " << step;
    const std::string samples = absl::StrCat("/samples/step_", step, ".jsonl");
    EXPECT_EQ(pt::ReadFile(cut + samples), pt::ReadFile(Path("whole") + samples)) << samples;
  }
}

TEST_F(AsyncTest, OptionsThatCannotWorkTogetherAreNamed) {
  // Stale samples need the rollout's log-probs: as PPO's old ones, or in a correction.
  pt::CommandResult r = Train("bad", "trainer.mode=async");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("trainer.mode: async trains on samples drawn by older weights"));
  EXPECT_THAT(r.err, HasSubstr("set algorithm.rollout_correction: {name: tis}"));
  r = Train("bad",
            "trainer.mode=async trainer.recompute_logprobs=false "
            "algorithm.filter_groups.enable=true");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("trainer.mode: async does not support algorithm.filter_groups"));
  r = Train("bad",
            "trainer.mode=async trainer.recompute_logprobs=false trainer.max_staleness=1 "
            "trainer.rollout_ahead=2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("rollout_ahead (2) must be <= max_staleness (1)"));
}

}  // namespace
}  // namespace ponder::trainer
