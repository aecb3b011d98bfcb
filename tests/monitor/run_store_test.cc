// Reading run directories as they grow: metrics.jsonl tailing, sample files, the catalog of
// runs, and the downsampling of long series.
#include "monitor/run_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "monitor/downsample.h"
#include "monitor/run_catalog.h"

namespace ponder::monitor {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir + "/samples");
  return dir;
}

void Append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text;
}

TEST(RunStoreTest, ReadsOnlyWhatWasAppendedAndWaitsForATornLine) {
  const std::string dir = FreshDir("store_tail");
  const std::string metrics = dir + "/metrics.jsonl";
  Append(metrics,
         "{\"step\":1,\"wall_time\":100.5,\"metrics\":{\"a\":1,\"b\":null}}\n"
         "{\"step\":2,\"wall_time\":101,\"metrics\":{\"a\":2}}\n{\"step\":3,\"met");
  RunStore store("r", dir);
  auto steps = store.Refresh();
  ASSERT_TRUE(steps.ok());
  EXPECT_THAT(*steps, ElementsAre(1, 2));
  EXPECT_EQ(store.last_step(), 2);
  EXPECT_THAT(store.Names(), ElementsAre("a", "b"));
  EXPECT_THAT(store.Get("a").values, ElementsAre(1, 2));
  EXPECT_TRUE(std::isnan(store.Get("b").values[0]));
  // The torn line completes; an evaluation line adds metrics to step 2.
  Append(metrics,
         "rics\":{\"a\":3}}\n"
         "{\"step\":2,\"wall_time\":101.5,\"metrics\":{\"val/x/mean@4\":0.5}}\n");
  steps = store.Refresh();
  ASSERT_TRUE(steps.ok());
  EXPECT_THAT(*steps, ElementsAre(2, 3));
  EXPECT_THAT(store.Get("a").steps, ElementsAre(1, 2, 3));
  EXPECT_EQ(store.StepMetrics(2), (Metrics{{"a", 2}, {"val/x/mean@4", 0.5}}));
  auto step_times = store.Steps();
  ASSERT_EQ(step_times.size(), 3u);
  EXPECT_EQ(step_times[1].second, 101);  // the first line of the step
  EXPECT_TRUE(store.Refresh()->empty());
  EXPECT_THAT(store.Get("a", 2, 2).steps, ElementsAre(2));
}

TEST(RunStoreTest, AReplacedOrTruncatedFileIsReadAgain) {
  const std::string dir = FreshDir("store_replaced");
  const std::string metrics = dir + "/metrics.jsonl";
  Append(metrics, "{\"step\":1,\"metrics\":{\"a\":1}}\n{\"step\":2,\"metrics\":{\"a\":2}}\n");
  RunStore store("r", dir);
  ASSERT_TRUE(store.Refresh().ok());
  // A resumed run keeps step 1 only (metrics.cc rewrites the file).
  {
    std::ofstream tmp(metrics + ".tmp");
    tmp << "{\"step\":1,\"metrics\":{\"a\":1}}\n";
  }
  fs::rename(metrics + ".tmp", metrics);
  auto steps = store.Refresh();
  ASSERT_TRUE(steps.ok());
  EXPECT_THAT(*steps, ElementsAre(1));
  EXPECT_EQ(store.last_step(), 1);
  EXPECT_THAT(store.Get("a").steps, ElementsAre(1));
}

TEST(RunStoreTest, BadLinesAreSkippedWithAWarningNamingFileAndLine) {
  const std::string dir = FreshDir("store_bad");
  Append(dir + "/metrics.jsonl",
         "{\"step\":1,\"metrics\":{\"a\":1}}\nnot json\n{\"step\":\"x\",\"metrics\":{}}\n"
         "{\"step\":4,\"metrics\":{\"a\":4}}\n");
  RunStore store("r", dir);
  auto steps = store.Refresh();
  ASSERT_TRUE(steps.ok());
  EXPECT_THAT(*steps, ElementsAre(1, 4));
  ASSERT_EQ(store.warnings().size(), 2u);
  EXPECT_THAT(store.warnings()[0], HasSubstr("metrics.jsonl:2: not a metrics record"));
  EXPECT_THAT(store.warnings()[1], HasSubstr("metrics.jsonl:3: not a metrics record"));
}

TEST(RunStoreTest, SampleFilesAreListedAndReportedWhenNew) {
  const std::string dir = FreshDir("store_samples");
  std::ofstream(dir + "/samples/step_1.jsonl") << "{\"prompt\":\"p\",\"response\":\"r\"}\n";
  std::ofstream(dir + "/samples/eval_step_0.jsonl") << "{\"prompt\":\"q\"}\n";
  std::ofstream(dir + "/samples/notes.txt") << "x";
  RunStore store("r", dir);
  ASSERT_TRUE(store.Refresh().ok());
  EXPECT_THAT(store.SampleSteps(SampleKind::kTrain), ElementsAre(1));
  EXPECT_THAT(store.SampleSteps(SampleKind::kEval), ElementsAre(0));
  EXPECT_TRUE(store.TakeNewSampleFiles().empty());  // present at the start: not "new"

  // The directory's timestamp must change for the next listing; give it a distinct one.
  std::ofstream(dir + "/samples/step_2.jsonl") << "{\"prompt\":\"p\"}\n{\"prompt\":\"p2\"}\n";
  std::ofstream(dir + "/samples/step_2_tokens.jsonl") << "{\"prompt_uid\":1}\n";
  fs::last_write_time(dir + "/samples",
                      fs::last_write_time(dir + "/samples") + std::chrono::seconds(1));
  ASSERT_TRUE(store.Refresh().ok());
  EXPECT_THAT(store.TakeNewSampleFiles(),
              ElementsAre(std::make_pair(SampleKind::kTrain, int64_t{2})));
  EXPECT_TRUE(store.HasTokenDetails(2));
  EXPECT_FALSE(store.HasTokenDetails(1));
  auto samples = store.Samples(SampleKind::kTrain, 2);
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ((*samples)->size(), 2u);
  EXPECT_EQ(store.Samples(SampleKind::kTrain, 7).status().code(), absl::StatusCode::kNotFound);

  std::ofstream(dir + "/samples/step_3.jsonl") << "{\"a\":1}\n[1,2]\n{\"a\":3}\n";
  auto bad = store.Samples(SampleKind::kTrain, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("step_3.jsonl:2: not a JSON object"));
}

TEST(RunCatalogTest, FindsRunsInAFolderAndRunsThatAppearLater) {
  const std::string root = ::testing::TempDir() + "/catalog";
  fs::remove_all(root);
  fs::create_directories(root + "/a");
  fs::create_directories(root + "/not_a_run");
  std::ofstream(root + "/a/metrics.jsonl") << "{\"step\":1,\"metrics\":{\"x\":1}}\n";
  RunCatalog catalog(root);
  auto updates = catalog.Refresh();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_TRUE(updates[0].added);
  EXPECT_EQ(updates[0].run->id(), "a");
  EXPECT_THAT(updates[0].steps, ElementsAre(1));

  fs::create_directories(root + "/b");
  std::ofstream(root + "/b/config.yaml") << "run: {name: b}\n";
  std::ofstream(root + "/a/metrics.jsonl", std::ios::app) << "{\"step\":2,\"metrics\":{\"x\":2}}\n";
  updates = catalog.Refresh();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(catalog.Runs().size(), 2u);
  EXPECT_NE(catalog.Find("b"), nullptr);
  EXPECT_EQ(catalog.Find("not_a_run"), nullptr);
  EXPECT_EQ(catalog.Find("a")->last_step(), 2);

  // The folder given is itself a run.
  RunCatalog single(root + "/a");
  single.Refresh();
  ASSERT_EQ(single.Runs().size(), 1u);
  EXPECT_EQ(single.Runs()[0]->id(), "a");
}

TEST(DownsampleTest, KeepsBucketExtremesInStepOrder) {
  Series s;
  for (int i = 0; i < 12; ++i) {
    s.steps.push_back(i);
    s.values.push_back(i == 4 ? 100 : i == 9 ? -50 : i);
  }
  // 8 points: 4 buckets of 3 points; each keeps its min and max (in step order).
  Series d = MinMaxDownsample(s, 8);
  EXPECT_THAT(d.steps, ElementsAre(0, 2, 3, 4, 6, 8, 9, 11));
  EXPECT_THAT(d.values, ElementsAre(0, 2, 3, 100, 6, 8, -50, 11));
  // Short series pass unchanged.
  EXPECT_EQ(MinMaxDownsample(s, 12).steps.size(), 12u);
}

TEST(DownsampleTest, ABucketWithNaNKeepsAGap) {
  Series s;
  for (int i = 0; i < 8; ++i) {
    s.steps.push_back(i * 10);
    s.values.push_back(i == 5 ? std::nan("") : 1.0);
  }
  Series d = MinMaxDownsample(s, 4);  // 2 buckets of 4, plus the last point
  EXPECT_THAT(d.steps, ElementsAre(0, 40, 50, 70));
  EXPECT_TRUE(std::isnan(d.values[2]));
}

}  // namespace
}  // namespace ponder::monitor
