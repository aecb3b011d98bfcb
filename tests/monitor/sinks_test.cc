// monitor.sinks: the factory, the fan-out, and what each sink writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/config.h"
#include "monitor/monitor_options.h"
#include "monitor/sink_factory.h"
#include "monitor/tensorboard_sink.h"
#include "tests/monitor/monitor_testing.h"
#include "tests/testing.h"

namespace ponder::monitor {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  return dir;
}

std::vector<fs::path> EventFiles(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find("tfevents") != std::string::npos) out.push_back(e.path());
  }
  return out;
}

TEST(SinkFactoryTest, EverySinkGetsEachStep) {
  const std::string dir = FreshDir("sinks_all");
  MonitorOptions options;  // jsonl, tensorboard, prometheus
  options.tensorboard_samples = 1;
  Registry registry;
  auto sink = MakeMetricsSink(options, dir, -1, &registry);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write(3, {{"reward/score/mean", 0.5}, {"actor/entropy", 1.25}}).ok());
  std::vector<SampleRecord> samples(2);
  samples[0].prompt = "1+1=";
  samples[0].response = "2\nmore";
  samples[0].score = 1.0;
  samples[0].correct = true;
  samples[0].advantage = 0.5;
  samples[0].finish_reason = "stop";
  samples[1].prompt = "2+2=";
  samples[1].response = "5";
  ASSERT_TRUE((*sink)->WriteSamples(3, samples).ok());
  SampleRecord eval;
  eval.kind = SampleRecord::Kind::kEval;
  eval.set = "arithmetic";
  eval.prompt = "3+3=";
  eval.error = "verifier timed out";
  ASSERT_TRUE((*sink)->WriteEvalSamples(3, {eval}).ok());

  // jsonl
  EXPECT_THAT(testing::ReadFile(dir + "/metrics.jsonl"), HasSubstr("\"reward/score/mean\":0.5"));
  EXPECT_THAT(testing::ReadFile(dir + "/samples/step_3.jsonl"), HasSubstr("\"prompt\":\"2+2=\""));
  // tensorboard: one file, read back by the independent reader
  const auto files = EventFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  testing::CommandResult r = testing::RunCommand(
      "/usr/bin/python3 " + testing::SourcePath("tests/monitor/read_tfevents.py") + " " +
      files[0].string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("\"scalars\": {\"actor/entropy\": 1.25, \"reward/score/mean\": 0.5}"));
  EXPECT_THAT(r.out, HasSubstr("\"texts\": {\"samples\": "));
  EXPECT_THAT(r.out, HasSubstr("    2\\n    more"));      // the response, verbatim
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("2+2=")));  // one sample per step
  EXPECT_THAT(r.out,
              HasSubstr("\"eval_samples\": \"**step 3, sample 0**: error verifier timed out"));
  EXPECT_THAT(testing::ReadFile(dir + "/samples/eval_step_3.jsonl"), HasSubstr("timed out"));
  // prometheus
  const std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("ponder_train_step 3\n"));
  EXPECT_THAT(text, HasSubstr("ponder_train_metric{name=\"actor/entropy\"} 1.25\n"));
  EXPECT_THAT(text, HasSubstr("ponder_train_samples_total{kind=\"train\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_train_samples_total{kind=\"eval\"} 1\n"));
  EXPECT_EQ(PromtoolCheck(text).exit_code, 0) << PromtoolCheck(text).output;
}

TEST(SinkFactoryTest, OnlyTheSinksNamed) {
  const std::string dir = FreshDir("sinks_jsonl");
  MonitorOptions options;
  options.sinks = {"jsonl"};
  Registry registry;
  auto sink = MakeMetricsSink(options, dir, -1, &registry);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(1, {{"a", 1}}).ok());
  EXPECT_TRUE(EventFiles(dir).empty());
  EXPECT_THAT(registry.Exposition(), ::testing::Not(HasSubstr("ponder_train_step")));
}

TEST(SinkFactoryTest, AFailingSinkDoesNotStopTheOthers) {
  struct Failing : MetricsSink {
    absl::Status Write(int64_t, const Metrics&) override { return absl::InternalError("disk"); }
    absl::Status WriteSamples(int64_t, const std::vector<SampleRecord>&) override {
      return absl::InternalError("disk");
    }
    absl::Status WriteEvalSamples(int64_t, const std::vector<SampleRecord>&) override {
      return absl::InternalError("disk");
    }
    absl::Status WriteTokenDetails(int64_t, const std::vector<TokenDetailRecord>&) override {
      return absl::InternalError("disk");
    }
  };
  struct Counting : MetricsSink {
    int* writes;
    explicit Counting(int* w) : writes(w) {}
    absl::Status Write(int64_t, const Metrics&) override { return ++*writes, absl::OkStatus(); }
    absl::Status WriteSamples(int64_t, const std::vector<SampleRecord>&) override {
      return ++*writes, absl::OkStatus();
    }
    absl::Status WriteEvalSamples(int64_t, const std::vector<SampleRecord>&) override {
      return ++*writes, absl::OkStatus();
    }
    absl::Status WriteTokenDetails(int64_t, const std::vector<TokenDetailRecord>&) override {
      return ++*writes, absl::OkStatus();
    }
  };
  int writes = 0;
  std::vector<std::unique_ptr<MetricsSink>> sinks;
  sinks.push_back(std::make_unique<Failing>());
  sinks.push_back(std::make_unique<Counting>(&writes));
  FanOutSink fan_out(std::move(sinks));
  EXPECT_EQ(fan_out.Write(1, {}).message(), "disk");
  EXPECT_EQ(fan_out.WriteSamples(1, {}).message(), "disk");
  EXPECT_EQ(fan_out.WriteEvalSamples(1, {}).message(), "disk");
  EXPECT_EQ(fan_out.WriteTokenDetails(1, {}).message(), "disk");
  EXPECT_EQ(writes, 4);
}

TEST(SinkFactoryTest, TokenDetailsGoBesideTheStepsSamples) {
  const std::string dir = FreshDir("sinks_tokens");
  MonitorOptions options;
  Registry registry;
  auto sink = MakeMetricsSink(options, dir, -1, &registry);
  ASSERT_TRUE(sink.ok()) << sink.status();
  TokenDetailRecord d;
  d.step = 4;
  d.prompt_uid = 17;
  d.sample_index = 2;
  d.token_ids = {5, 9};
  d.tokens = {"1", "\n"};
  d.behaviour_logprobs = {-0.1f, -2.5f};
  d.logprobs = {-0.125f, std::nanf("")};  // not finite: written as null
  d.advantage = {0.5f, 0.5f};
  d.loss_mask = {1, 0};  // no entropy: null
  ASSERT_TRUE((*sink)->WriteTokenDetails(4, {d, d}).ok());
  const std::string text = testing::ReadFile(dir + "/samples/step_4_tokens.jsonl");
  const json line = json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(line, json::parse(R"({"step": 4, "prompt_uid": 17, "sample_index": 2,
      "token_ids": [5, 9], "tokens": ["1", "\n"], "behaviour_logprobs": [-0.1, -2.5],
      "logprobs": [-0.125, null], "entropy": null, "advantage": [0.5, 0.5],
      "loss_mask": [1, 0]})"));
  EXPECT_THAT(text, HasSubstr("\"behaviour_logprobs\":[-0.1,-2.5]"));  // shortest decimals
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST(TokenDetailTest, ShareOfTheSamples) {
  EXPECT_EQ(TokenDetailCount(0.0, 256), 0);
  EXPECT_EQ(TokenDetailCount(0.5, 0), 0);
  EXPECT_EQ(TokenDetailCount(0.001, 256), 1);  // at least one
  EXPECT_EQ(TokenDetailCount(0.25, 32), 8);
  EXPECT_EQ(TokenDetailCount(0.1, 25), 3);  // rounded: 2.5 -> 3
  EXPECT_EQ(TokenDetailCount(1.0, 32), 32);
}

TEST(MonitorOptionsTest, SinksAndHttpAreValidated) {
  auto ok = config::LoadString<MonitorOptions>("http: {port: 9100}\nsinks: [jsonl]\n", "m.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_TRUE(ok->http.has_value());
  EXPECT_EQ(ok->http->port, 9100);
  EXPECT_EQ(ok->http->host, "127.0.0.1");
  EXPECT_FALSE(config::LoadString<MonitorOptions>("{}", "m.yaml")->http.has_value());

  auto bad = config::LoadString<MonitorOptions>("sinks: [jsonl, wandb]\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("sinks must list only jsonl, tensorboard and prometheus"));
  bad = config::LoadString<MonitorOptions>("sinks: [tensorboard]\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("sinks must include jsonl"));
  bad = config::LoadString<MonitorOptions>("http: {port: 70000}\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("http.port must be <= 65535 (got 70000)"));
  bad = config::LoadString<MonitorOptions>("token_details: 1.5\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("token_details must be <= 1 (got 1.5)"));
  EXPECT_THAT(bad.status().message(), HasSubstr("m.yaml"));
  bad = config::LoadString<MonitorOptions>("token_details: -0.1\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("token_details must be >= 0 (got -0.1)"));
  bad = config::LoadString<MonitorOptions>("token_details: half\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("token_details"));
  EXPECT_EQ(config::LoadString<MonitorOptions>("token_details: 0.25\n", "m.yaml")->token_details,
            0.25);
  EXPECT_EQ(config::LoadString<MonitorOptions>("{}", "m.yaml")->token_details, 0.0);
  bad = config::LoadString<MonitorOptions>("http: {prot: 1}\n", "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("prot"));
}

TEST(TensorBoardSinkTest, MarkdownKeepsTextVerbatim) {
  SampleRecord r;
  r.prompt = "a|b";
  r.response = "**not bold**\n# not a title";
  r.score = 0.25;
  r.advantage = -1;
  const std::string md = SamplesMarkdown(7, {r}, 4);
  EXPECT_EQ(md,
            "**step 7, sample 0**: reward 0.250, advantage -1.000\n\nprompt:\n\n    a|b\n\n"
            "response:\n\n    **not bold**\n    # not a title");
}

}  // namespace
}  // namespace ponder::monitor
