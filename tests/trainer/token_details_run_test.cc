// monitor.token_details on a real tiny run (`ponder train`): samples/step_N_tokens.jsonl has a
// line per chosen sample, joined to its line of samples/step_N.jsonl, with as many values of
// each kind as the response has tokens; the trainer's log-probs are those the learner used
// (their mismatch with the rollout's is the step's rollout/logp_mismatch/mean), the advantages
// average to the sample's advantage, and the entropies are finite and >= 0. Off by default.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/testing.h"
#include "tests/trainer/train_testing.h"

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using nlohmann::json;
using ::testing::HasSubstr;

class TokenDetailsRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/token_details_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  pt::CommandResult Train(const std::string& run, const std::string& overrides) const {
    return pt::RunCommand(absl::StrCat(pt::Ponder(), " train --config ", pt::TinyConfig(),
                                       " run.dir=", root_, "/", run,
                                       " trainer.steps=2 eval.every=0 eval.at_end=false "
                                       "checkpoint.at_end=false ",
                                       overrides));
  }
  std::string root_;
};

// Checks the lines of one step against its samples and metrics; returns how many there were.
size_t CheckStep(const std::string& run, int64_t step, const json& metrics) {
  std::map<std::pair<uint64_t, int64_t>, json> samples;
  for (const json& s : pt::ReadJsonLines(absl::StrCat(run, "/samples/step_", step, ".jsonl"))) {
    samples[{s.at("prompt_uid").get<uint64_t>(), s.at("sample_index").get<int64_t>()}] = s;
  }
  const std::vector<json> lines =
      pt::ReadJsonLines(absl::StrCat(run, "/samples/step_", step, "_tokens.jsonl"));
  double mismatch = 0, tokens = 0;
  for (const json& d : lines) {
    SCOPED_TRACE(d.dump());
    EXPECT_EQ(d.at("step"), step);
    auto it =
        samples.find({d.at("prompt_uid").get<uint64_t>(), d.at("sample_index").get<int64_t>()});
    if (it == samples.end()) {
      ADD_FAILURE() << "no sample for this line";
      continue;
    }
    const json& sample = it->second;
    const size_t n = sample.at("response_tokens").get<size_t>();
    for (const char* key : {"token_ids", "tokens", "behaviour_logprobs", "logprobs", "entropy",
                            "advantage", "loss_mask"}) {
      const bool fits = d.at(key).is_array() && d.at(key).size() == n;
      EXPECT_TRUE(fits) << key << " should be a list of " << n;
      if (!fits) return lines.size();
    }
    std::string text;
    double advantage = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::string token = d["tokens"][i].get<std::string>();
      // Special tokens are shown by name; the response's text leaves them out.
      if (!(token.size() > 2 && token.front() == '<' && token.back() == '>')) text += token;
      const double logprob = d["logprobs"][i].get<double>();
      const double entropy = d["entropy"][i].get<double>();  // null (not finite) would throw
      EXPECT_LE(logprob, 0);
      EXPECT_TRUE(std::isfinite(entropy) && entropy >= 0) << entropy;
      EXPECT_TRUE(d["loss_mask"][i] == 0 || d["loss_mask"][i] == 1);
      advantage += d["advantage"][i].get<double>();
      mismatch += std::abs(logprob - d["behaviour_logprobs"][i].get<double>());
      tokens += 1;
    }
    EXPECT_EQ(text, sample.at("response").get<std::string>());
    EXPECT_NEAR(advantage / static_cast<double>(n), sample.at("advantage").get<double>(), 1e-5);
  }
  // Every sample of the step has a line (token_details: 1): the mean mismatch over all of their
  // tokens is the learner's metric, so these are the log-probs it used.
  EXPECT_EQ(lines.size(), samples.size());
  EXPECT_NEAR(mismatch / tokens, metrics.at("rollout/logp_mismatch/mean").get<double>(), 1e-5);
  return lines.size();
}

TEST_F(TokenDetailsRunTest, EverySampleOfEachStep) {
  pt::CommandResult r = Train("all", "monitor.token_details=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<int64_t, json> metrics = pt::DeterministicMetrics(root_ + "/all");
  ASSERT_EQ(metrics.size(), 2u);
  for (int64_t step : {1, 2}) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    EXPECT_EQ(CheckStep(root_ + "/all", step, metrics.at(step)), 32u);  // 8 prompts x 4
  }
}

TEST_F(TokenDetailsRunTest, AShareOfTheSamplesOrNone) {
  pt::CommandResult r = Train("quarter", "monitor.token_details=0.25");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = pt::ReadJsonLines(root_ + "/quarter/samples/step_1_tokens.jsonl");
  ASSERT_EQ(lines.size(), 8u);
  const std::vector<json> samples = pt::ReadJsonLines(root_ + "/quarter/samples/step_1.jsonl");
  for (size_t i = 0; i < lines.size(); ++i) {  // the first samples of the step, in order
    EXPECT_EQ(lines[i]["prompt_uid"], samples[i]["prompt_uid"]);
    EXPECT_EQ(lines[i]["sample_index"], samples[i]["sample_index"]);
  }
  r = Train("none", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(root_ + "/none/samples/step_1.jsonl"));
  EXPECT_FALSE(fs::exists(root_ + "/none/samples/step_1_tokens.jsonl"));
}

TEST_F(TokenDetailsRunTest, AShareOutsideZeroToOneIsRefused) {
  pt::CommandResult r = Train("bad", "monitor.token_details=2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("monitor.token_details must be <= 1 (got 2)"));
}

}  // namespace
}  // namespace ponder::trainer
