#include "trainer/job_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// `ponder sft` and `ponder train` take the same optimizer keys, with the same meaning.
TEST(JobConfigTest, SftAndTrainerTakeTheSameOptimizerKeys) {
  const std::string keys =
      "{steps: 7, lr: 0.002, betas: [0.8, 0.9], eps: 1.0e-6, weight_decay: 0.1, "
      "lr_scheduler_type: cosine, lr_warmup_steps: 3, min_lr_ratio: 0.25, grad_clip: 0.5}";
  absl::StatusOr<JobConfig> job = config::LoadString<JobConfig>(
      absl::StrCat("trainer: ", keys, "\nsft: ", keys, "\n"), "t.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  for (const OptimizerOptions* o : {static_cast<const OptimizerOptions*>(&job->trainer),
                                    static_cast<const OptimizerOptions*>(&job->sft)}) {
    EXPECT_EQ(o->steps, 7);
    EXPECT_EQ(o->lr, 0.002);
    EXPECT_EQ(o->betas, (std::vector<double>{0.8, 0.9}));
    EXPECT_EQ(o->eps, 1e-6);
    EXPECT_EQ(o->weight_decay, 0.1);
    EXPECT_EQ(o->lr_scheduler_type, LrSchedulerType::kCosine);
    EXPECT_EQ(o->lr_warmup_steps, 3);
    EXPECT_EQ(o->min_lr_ratio, 0.25);
    EXPECT_EQ(o->grad_clip, 0.5);
  }
  // The same schedule for both: warm-up, then a cosine down to min_lr_ratio * lr.
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(job->sft, job->sft.lr, 0), 0.002 / 3);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(job->sft, job->sft.lr, 6), 0.0005);
  // Every optimizer key of one section is a key of the other.
  std::vector<std::string> trainer_keys, sft_keys;
  for (const config::FieldInfo& f : config::DescribeFields<JobConfig>()) {
    if (absl::StartsWith(f.path, "trainer.")) trainer_keys.push_back(f.path.substr(8));
    if (absl::StartsWith(f.path, "sft.")) sft_keys.push_back(f.path.substr(4));
  }
  for (const char* key : {"steps", "lr", "betas", "eps", "weight_decay", "lr_scheduler_type",
                          "lr_warmup_steps", "min_lr_ratio", "grad_clip"}) {
    EXPECT_THAT(trainer_keys, ::testing::Contains(key));
    EXPECT_THAT(sft_keys, ::testing::Contains(key));
  }
  // SFT keeps its own defaults.
  absl::StatusOr<JobConfig> defaults = config::LoadString<JobConfig>("", "t.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->sft.lr, 1e-3);
  EXPECT_EQ(defaults->sft.lr_warmup_steps, 20);
  EXPECT_EQ(defaults->trainer.lr, 1e-6);
  EXPECT_EQ(defaults->trainer.lr_warmup_steps, 0);
}

TEST(JobConfigTest, OldSftKeyNamesTheNewOne) {
  absl::StatusOr<JobConfig> job =
      config::LoadString<JobConfig>("sft:\n  steps: 5\n  warmup_steps: 10\n", "t.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().message(),
            "t.yaml:3:17: sft.warmup_steps was renamed to sft.lr_warmup_steps (sft: takes the "
            "optimizer keys of trainer:)");
  job = config::LoadString<JobConfig>("", "t.yaml", {"sft.warmup_steps=0"});
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("sft.warmup_steps was renamed to sft.lr_warmup_steps"));
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
