// The trainer's config sections (data, algorithm, trainer), the learning-rate schedule and
// the mini-/micro-batch splitting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "trainer/batching.h"
#include "trainer/job_config.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<JobConfig> Load(const std::string& yaml,
                               const std::vector<std::string>& overrides = {}) {
  return config::LoadString<JobConfig>(yaml, "job.yaml", overrides);
}

TEST(AlgorithmOptionsTest, PresetsSetTheirDocumentedOptions) {
  auto job = Load("algorithm: {name: dapo}\n");
  ASSERT_TRUE(job.ok()) << job.status();
  const AlgorithmOptions& a = job->algorithm;
  EXPECT_EQ(a.adv_estimator, "grpo");
  EXPECT_DOUBLE_EQ(a.clip_ratio_low, 0.2);
  EXPECT_DOUBLE_EQ(a.clip_ratio_high, 0.28);
  EXPECT_EQ(a.loss_agg_mode, LossAggMode::kTokenMean);
  EXPECT_TRUE(a.filter_groups.enable);
  EXPECT_FALSE(a.NeedsReference());

  job = Load("algorithm: {name: kimi}\n");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->algorithm.policy_loss, "kimi");
  EXPECT_EQ(job->algorithm.adv_estimator, "kimi");
  EXPECT_TRUE(job->algorithm.reset_optimizer_per_step);

  job = Load("algorithm: {name: ppo}\n");
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE(job->algorithm.NeedsCritic());
  EXPECT_DOUBLE_EQ(job->algorithm.lam, 0.95);
  EXPECT_DOUBLE_EQ(job->algorithm.lam_critic, 1.0);

  job = Load("run: {name: x}\n");  // no algorithm section: the grpo preset
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->algorithm.name, "grpo");
  EXPECT_TRUE(job->algorithm.NeedsReference());
  EXPECT_EQ(job->algorithm.loss_agg_mode, LossAggMode::kSeqMeanTokenMean);

  for (const std::string& name : AlgorithmPresetNames()) {
    auto preset = AlgorithmPreset(name);
    ASSERT_TRUE(preset.ok()) << name;
    EXPECT_TRUE(preset->Validate().ok()) << name;
  }
}

TEST(AlgorithmOptionsTest, FieldsOverrideThePresetWhereverTheyAreGiven) {
  auto job = Load("algorithm: {clip_ratio_high: 0.3, name: dapo}\n",
                  {"algorithm.loss_agg_mode=seq-mean-token-sum"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_DOUBLE_EQ(job->algorithm.clip_ratio_high, 0.3);
  EXPECT_EQ(job->algorithm.loss_agg_mode, LossAggMode::kSeqMeanTokenSum);
  EXPECT_TRUE(job->algorithm.filter_groups.enable);

  job = Load("algorithm: {name: grpo}\n", {"algorithm.name=gspo"});
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->algorithm.policy_loss, "gspo");
  EXPECT_DOUBLE_EQ(job->algorithm.clip_ratio_low, 3e-4);
}

TEST(AlgorithmOptionsTest, ResolvedConfigRoundTrips) {
  for (const std::string& name : AlgorithmPresetNames()) {
    auto job = Load("algorithm: {name: " + name + ", entropy_coeff: 0.01}\n");
    ASSERT_TRUE(job.ok()) << job.status();
    std::string yaml = config::ToYaml(*job);
    auto again = config::LoadString<JobConfig>(yaml, "resolved.yaml");
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << yaml;
    EXPECT_EQ(config::ToYaml(*again), yaml);
    EXPECT_DOUBLE_EQ(again->algorithm.entropy_coeff, 0.01);
  }
}

TEST(AlgorithmOptionsTest, RolloutCorrectionWithItsOptions) {
  auto job = Load("algorithm: {name: dapo, rollout_correction: {name: tis, options: {cap: 3}}}\n");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->algorithm.rollout_correction.name, "tis");
  EXPECT_TRUE(job->algorithm.Validate().ok());
  std::string yaml = config::ToYaml(*job);
  auto again = config::LoadString<JobConfig>(yaml, "resolved.yaml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << yaml;
  EXPECT_EQ(config::ToYaml(*again), yaml);
  EXPECT_THAT(yaml, HasSubstr("cap: 3"));
}

TEST(AlgorithmOptionsTest, BadValuesNameTheKey) {
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"algorithm: {name: trpo}\n", "algorithm.name must name a preset: grpo, dr_grpo"},
      {"algorithm: {adv_estimator: vtrace}\n",
       "algorithm.adv_estimator must name an advantage estimator (supported: gae, grpo, rloo, "
       "reinforce_pp (or reinforce_plus_plus), reinforce_pp_baseline (or "
       "reinforce_plus_plus_baseline), kimi; got 'vtrace')"},
      // (a prefix of the list, so that registering another loss leaves this test as it is)
      {"algorithm: {policy_loss: trpo}\n",
       "algorithm.policy_loss must name a policy loss (supported: ppo, gspo, kimi"},
      {"algorithm: {policy_loss: trpo}\n", "; got 'trpo')"},
      {"algorithm: {rollout_correction: {name: magic}}\n",
       "algorithm.rollout_correction.name must be empty (no correction) or name a rollout "
       "correction"},
      {"algorithm: {rollout_correction: {name: tis, options: {cap: 0.5}}}\n",
       "algorithm.rollout_correction.options.cap must be >= 1 (got 0.5)"},
      {"algorithm: {rollout_correction: {name: tis, options: {cap_ratio: 3}}}\n",
       "unknown key 'algorithm.rollout_correction.options.cap_ratio'"},
      {"algorithm: {rollout_correction: {name: token_mask, options: {cap: 1}}}\n",
       "algorithm.rollout_correction.options.cap must be > 1 (got 1)"},
      {"algorithm: {loss_agg_mode: mean}\n", "unknown value 'mean'"},
      {"algorithm: {clip_ratio_c: 0.5}\n", "algorithm.clip_ratio_c must be 0 (off) or > 1"},
      {"algorithm: {kl_loss_type: k4}\n", "algorithm.kl_loss_type unknown value 'k4'"},
      {"algorithm: {lam: 1.5}\n", "algorithm.lam must be <= 1 (got 1.5)"},
      {"algorithm: {policy_loss: kimi, adv_estimator: gae}\n",
       "policy_loss kimi uses one advantage per sample"},
      {"algorithm: {filter_groups: {max_num_gen_batches: -1}}\n",
       "algorithm.filter_groups.max_num_gen_batches must be >= 0"},
      {"trainer: {betas: [0.9]}\n", "trainer.betas must hold two numbers"},
      {"trainer: {betas: [0.9, 1.0]}\n", "betas must be in [0, 1) (got 1)"},
      {"trainer: {lr_scheduler_type: linear}\n", "unknown value 'linear'"},
      {"trainer: {ppo_epochs: 0}\n", "trainer.ppo_epochs must be >= 1 (got 0)"},
      {"data: {task: {name: arithmetic}, train_files: [a.jsonl]}\n",
       "give either train_files or task.name, not both"},
      {"data: {task: {name: countdown, levels: [1]}}\n",
       "levels of countdown must be in 2..5 (got 1)"},
      {"data: {task: {name: arithmetic, flaw: typo}}\n", "data.task.flaw must be carry or slip"},
      {"data: {task: {name: arithmetic, flawed_demonstrations: 1.5}}\n",
       "data.task.flawed_demonstrations must be <= 1 (got 1.5)"},
      {"data: {on_bad_line: ignore}\n", "data.on_bad_line unknown value 'ignore'"},
      {"data: {promt_key: q}\n", "unknown key 'data.promt_key'"},
  };
  for (const Case& c : cases) {
    auto job = Load(c.yaml);
    ASSERT_FALSE(job.ok()) << c.yaml;
    EXPECT_THAT(std::string(job.status().message()), HasSubstr(c.message)) << c.yaml;
    EXPECT_THAT(std::string(job.status().message()), HasSubstr("job.yaml")) << c.yaml;
  }
}

TEST(TrainerOptionsTest, LearningRateScheduleByHand) {
  TrainerOptions o;
  o.steps = 11;
  o.lr_warmup_steps = 4;
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 2.0, 0), 0.5);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 2.0, 3), 2.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 2.0, 10), 2.0);
  o.lr_scheduler_type = LrSchedulerType::kCosine;
  o.min_lr_ratio = 0.1;
  // After warm-up the cosine spans steps 4..10 (6 intervals): at step 7, halfway, the rate is
  // the mean of 2.0 and 0.2; at the last step it is 0.2.
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 2.0, 4), 2.0);
  EXPECT_NEAR(ScheduledLearningRate(o, 2.0, 7), 1.1, 1e-15);
  EXPECT_NEAR(ScheduledLearningRate(o, 2.0, 5), 0.2 + 1.8 * 0.5 * (1 + std::cos(M_PI / 6)), 1e-15);
  EXPECT_NEAR(ScheduledLearningRate(o, 2.0, 10), 0.2, 1e-15);
  EXPECT_NEAR(ScheduledLearningRate(o, 2.0, 50), 0.2, 1e-15);
}

TEST(BatchingTest, MiniBatchesKeepGroupsWhole) {
  const std::vector<int64_t> groups = {7, 7, 3, 3, 9, 9, 7, 1, 1};
  auto minis = SplitMiniBatches(groups, 2, nullptr);
  ASSERT_EQ(minis.size(), 2u);
  EXPECT_EQ(minis[0], (std::vector<int64_t>{0, 1, 6, 2, 3}));
  EXPECT_EQ(minis[1], (std::vector<int64_t>{4, 5, 7, 8}));
  EXPECT_EQ(SplitMiniBatches(groups, 0, nullptr).size(), 1u);
  std::mt19937_64 rng(3);
  auto shuffled = SplitMiniBatches(groups, 1, &rng);
  ASSERT_EQ(shuffled.size(), 4u);
  std::multiset<int64_t> all;
  for (const auto& m : shuffled) {
    std::set<int64_t> ids;
    for (int64_t i : m) {
      ids.insert(groups[i]);
      all.insert(i);
    }
    EXPECT_EQ(ids.size(), 1u);
  }
  EXPECT_EQ(all.size(), groups.size());
}

TEST(BatchingTest, MicroBatchesRespectTheTokenBudget) {
  const std::vector<int64_t> lengths = {5, 9, 3, 9, 20, 4, 4, 1};
  auto micro = PackMicroBatches({0, 1, 2, 3, 4, 5, 6, 7}, lengths, 18);
  // Longest first: 20 alone (over budget); 9,9 (2*9=18); 5,4,4 (3*5=15); 3,1.
  ASSERT_EQ(micro.size(), 4u);
  EXPECT_EQ(micro[0], (std::vector<int64_t>{4}));
  EXPECT_EQ(micro[1], (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(micro[2], (std::vector<int64_t>{0, 5, 6}));
  EXPECT_EQ(micro[3], (std::vector<int64_t>{2, 7}));
  auto one = PackMicroBatches({2, 5}, lengths, 1000);
  EXPECT_EQ(one, (std::vector<std::vector<int64_t>>{{5, 2}}));
}

}  // namespace
}  // namespace ponder::trainer
