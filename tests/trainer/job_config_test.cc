#include "trainer/job_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

TEST(JobConfigTest, EveryShippedConfigLoadsAndRoundTrips) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::SourcePath("configs"))) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    absl::StatusOr<JobConfig> job = LoadJobConfig(entry.path().string());
    ASSERT_TRUE(job.ok()) << entry.path() << ": " << job.status();
    std::string yaml = config::ToYaml(*job);
    absl::StatusOr<JobConfig> again = config::LoadString<JobConfig>(yaml, "resolved.yaml");
    ASSERT_TRUE(again.ok()) << entry.path() << ": " << again.status() << "\n" << yaml;
    EXPECT_EQ(config::ToYaml(*again), yaml) << entry.path();
  }
  EXPECT_GT(count, 0);
}

TEST(JobConfigTest, DefaultsAndOverrides) {
  absl::StatusOr<JobConfig> job =
      config::LoadString<JobConfig>("run: {name: t}\n", "t.yaml", {"run.seed=7"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->run.name, "t");
  EXPECT_EQ(job->run.seed, 7);
  EXPECT_EQ(job->run.dir, "runs/ponder");
}

TEST(JobConfigTest, RejectsUnknownLogLevel) {
  absl::StatusOr<JobConfig> job =
      config::LoadString<JobConfig>("run: {log_level: loud}\n", "t.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("t.yaml:1:18: run.log_level must be one of trace"));
}

TEST(JobConfigTest, MasterDtype) {
  absl::StatusOr<JobConfig> job = config::LoadString<JobConfig>(
      "model: {dtype: bfloat16}\n", "t.yaml", {"model.master_dtype=same"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->model.master_dtype, model::MasterPrecision::kSame);
  job = config::LoadString<JobConfig>("model: {dtype: bfloat16}\n", "t.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->model.master_dtype, model::MasterPrecision::kFloat32);
  job = config::LoadString<JobConfig>("model: {master_dtype: half}\n", "t.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("t.yaml:1:23: model.master_dtype unknown value 'half' (choose one of: "
                        "float32, same)"));
}

}  // namespace
}  // namespace ponder::trainer
