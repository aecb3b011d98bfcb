#include "monitor/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/testing.h"

namespace ponder::monitor {
namespace {

using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "monitor_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(MetricsTest, SummariesByHand) {
  Metrics m;
  AddSummary(m, "rollout/response_len", {2, 4, 9});
  EXPECT_DOUBLE_EQ(m["rollout/response_len/mean"], 5.0);
  EXPECT_DOUBLE_EQ(m["rollout/response_len/max"], 9.0);
  EXPECT_DOUBLE_EQ(m["rollout/response_len/min"], 2.0);
  AddMeanStd(m, "reward/score", {1, 3});
  EXPECT_DOUBLE_EQ(m["reward/score/mean"], 2.0);
  EXPECT_DOUBLE_EQ(m["reward/score/std"], 1.0);
  Metrics empty;
  AddSummary(empty, "x", {});
  AddMeanStd(empty, "y", {});
  EXPECT_TRUE(empty.empty());
}

TEST(RunDirSinkTest, WritesAndReadsBack) {
  std::string dir = FreshDir("write");
  auto sink = RunDirSink::Create(dir);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write(1, {{"reward/score/mean", 0.5}, {"actor/grad_norm", NAN}}).ok());
  ASSERT_TRUE((*sink)->Write(2, {{"reward/score/mean", 0.75}}).ok());
  SampleRecord eval;
  eval.kind = SampleRecord::Kind::kEval;
  eval.set = "arithmetic";
  eval.error = "boom";
  ASSERT_TRUE((*sink)->WriteEvalSamples(2, {eval}).ok());

  auto metrics = ReadMetricsFile(dir + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->size(), 2u);
  EXPECT_DOUBLE_EQ(metrics->at(2).at("reward/score/mean"), 0.75);
  EXPECT_TRUE(std::isnan(metrics->at(1).at("actor/grad_norm")));  // written as null
  EXPECT_EQ(testing::ReadFile(dir + "/samples/eval_step_2.jsonl"), ToJson(eval).dump() + "\n");
}

TEST(RunDirSinkTest, AFreshRunStartsAnEmptyMetricsFile) {
  std::string dir = FreshDir("fresh");
  {
    auto sink = RunDirSink::Create(dir);
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write(1, {{"x", 1}}).ok());
  }
  auto sink = RunDirSink::Create(dir);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(1, {{"x", 2}}).ok());
  auto metrics = ReadMetricsFile(dir + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->size(), 1u);
  EXPECT_DOUBLE_EQ(metrics->at(1).at("x"), 2);
}

TEST(RunDirSinkTest, ResumeDropsStepsAfterTheCheckpointAndTornLines) {
  std::string dir = FreshDir("resume");
  {
    auto sink = RunDirSink::Create(dir);
    ASSERT_TRUE(sink.ok());
    for (int step = 1; step <= 4; ++step) ASSERT_TRUE((*sink)->Write(step, {{"x", step}}).ok());
  }
  std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{\"step\": 5, \"metr";  // torn
  auto sink = RunDirSink::Create(dir, /*resume_step=*/2);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write(3, {{"x", 30}}).ok());
  auto metrics = ReadMetricsFile(dir + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->size(), 3u);
  EXPECT_DOUBLE_EQ(metrics->at(3).at("x"), 30);
}

TEST(RunDirSinkTest, BadInputsNameTheFile) {
  std::string dir = FreshDir("bad");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/metrics.jsonl") << "{\"step\": 1, \"metrics\": {}}\nnot json\n";
  auto metrics = ReadMetricsFile(dir + "/metrics.jsonl");
  ASSERT_FALSE(metrics.ok());
  EXPECT_THAT(std::string(metrics.status().message()), HasSubstr("metrics.jsonl:2: not a metrics"));
  EXPECT_EQ(ReadMetricsFile(dir + "/missing.jsonl").status().code(), absl::StatusCode::kNotFound);

  std::ofstream(dir + "/file") << "x";
  auto sink = RunDirSink::Create(dir + "/file/run");
  ASSERT_FALSE(sink.ok());
  EXPECT_THAT(std::string(sink.status().message()), HasSubstr("cannot create run directory"));
}

// A write that fails (here the target is a directory, so that running as root does not hide
// it) reaches the caller with the path and the system's reason.
TEST(RunDirSinkTest, FailedWritesNameThePath) {
  std::string dir = FreshDir("failed_writes");
  auto sink = RunDirSink::Create(dir);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::filesystem::create_directories(dir + "/metrics.jsonl");
  absl::Status metrics = (*sink)->Write(1, {{"x", 1}});
  ASSERT_FALSE(metrics.ok());
  EXPECT_EQ(metrics.message(), "cannot append to '" + dir + "/metrics.jsonl': Is a directory");

  std::filesystem::create_directories(dir + "/samples/step_1.jsonl.tmp");
  absl::Status samples = (*sink)->WriteSamples(1, {SampleRecord{}});
  ASSERT_FALSE(samples.ok());
  EXPECT_EQ(samples.message(),
            "cannot write '" + dir + "/samples/step_1.jsonl.tmp': Is a directory");
  EXPECT_FALSE(std::filesystem::exists(dir + "/samples/step_1.jsonl"));
}

TEST(RunDirSinkTest, ResumeThatCannotReadTheMetricsFileFails) {
  std::string dir = FreshDir("resume_unreadable");
  std::filesystem::create_directories(dir + "/metrics.jsonl");
  auto sink = RunDirSink::Create(dir, /*resume_step=*/2);
  ASSERT_FALSE(sink.ok());
  EXPECT_THAT(std::string(sink.status().message()),
              HasSubstr("cannot read metrics file '" + dir + "/metrics.jsonl'"));
}

}  // namespace
}  // namespace ponder::monitor
