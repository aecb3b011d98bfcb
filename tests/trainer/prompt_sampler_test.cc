#include "trainer/prompt_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "trainer/group_filter.h"
#include "trainer/job_config.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<PromptSampler> Make(const SamplerOptions& o, const std::vector<int64_t>& levels,
                                    uint64_t seed = 7) {
  auto s = MakePromptSampler(o, levels, seed);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// Draws a stream, saves in the middle, and checks that a fresh sampler loaded from the saved
// state continues with exactly the same stream (including feedback given after the save).
void ExpectExactResume(const SamplerOptions& o, const std::vector<int64_t>& levels) {
  auto a = Make(o, levels);
  for (int64_t step = 0; step < 7; ++step) {
    for (int64_t i : a->Sample(5, step)) a->Observe(i, (i % 3) / 2.0, 2);
  }
  const std::string state = a->SaveState();
  auto b = Make(o, levels, /*seed=*/999);  // a different seed: the state must override it
  ASSERT_TRUE(b->LoadState(state).ok()) << b->LoadState(state);
  for (int64_t step = 7; step < 30; ++step) {
    std::vector<int64_t> xa = a->Sample(5, step), xb = b->Sample(5, step);
    ASSERT_EQ(xa, xb) << "step " << step;
    for (size_t k = 0; k < xa.size(); ++k) {
      a->Observe(xa[k], static_cast<double>(k % 2), 1);
      b->Observe(xb[k], static_cast<double>(k % 2), 1);
    }
  }
  EXPECT_EQ(a->SaveState(), b->SaveState());
}

TEST(UniformSamplerTest, EachEpochIsAPermutationAndEpochsDiffer) {
  SamplerOptions o;
  auto s = Make(o, std::vector<int64_t>(10, 0));
  std::vector<int64_t> e1 = s->Sample(10, 0), e2 = s->Sample(10, 1);
  std::vector<int64_t> sorted1 = e1, sorted2 = e2, all(10);
  std::iota(all.begin(), all.end(), 0);
  std::sort(sorted1.begin(), sorted1.end());
  std::sort(sorted2.begin(), sorted2.end());
  EXPECT_EQ(sorted1, all);
  EXPECT_EQ(sorted2, all);
  EXPECT_NE(e1, e2);
  EXPECT_NE(e1, all);

  o.shuffle = false;
  auto ordered = Make(o, std::vector<int64_t>(4, 0));
  EXPECT_EQ(ordered->Sample(6, 0), (std::vector<int64_t>{0, 1, 2, 3, 0, 1}));
}

TEST(UniformSamplerTest, ResumesExactlyMidEpoch) {
  ExpectExactResume(SamplerOptions(), std::vector<int64_t>(13, 0));
}

TEST(CurriculumSamplerTest, FollowsTheSchedule) {
  SamplerOptions o;
  o.name = "curriculum";
  o.curriculum = {{10, {1}, {}}, {30, {1, 2}, {1, 3}}, {0, {3}, {}}};
  std::vector<int64_t> levels;
  for (int i = 0; i < 60; ++i) levels.push_back(1 + i % 3);
  auto s = Make(o, levels);
  std::map<int64_t, int64_t> stage2;
  for (int64_t step = 0; step < 40; ++step) {
    for (int64_t i : s->Sample(50, step)) {
      const int64_t level = levels[i];
      if (step < 10) {
        ASSERT_EQ(level, 1) << "step " << step;
      } else if (step < 30) {
        ASSERT_TRUE(level == 1 || level == 2) << "step " << step;
        ++stage2[level];
      } else {
        ASSERT_EQ(level, 3) << "step " << step;
      }
    }
  }
  // Weights 1:3 over 1,000 draws: the share of level 2 is 0.75 +- 4 standard errors.
  const double share = stage2[2] / 1000.0;
  EXPECT_NEAR(share, 0.75, 4 * std::sqrt(0.75 * 0.25 / 1000));
}

TEST(CurriculumSamplerTest, WithinALevelEveryPromptComesOncePerEpoch) {
  SamplerOptions o;
  o.name = "curriculum";
  o.curriculum = {{0, {2}, {}}};
  std::vector<int64_t> levels = {1, 2, 1, 2, 2, 1};
  auto s = Make(o, levels);
  std::vector<int64_t> drawn = s->Sample(3, 0);
  std::sort(drawn.begin(), drawn.end());
  EXPECT_EQ(drawn, (std::vector<int64_t>{1, 3, 4}));
}

TEST(CurriculumSamplerTest, ResumesExactly) {
  SamplerOptions o;
  o.name = "curriculum";
  o.curriculum = {{12, {1, 2}, {2, 1}}, {0, {2, 3}, {}}};
  std::vector<int64_t> levels;
  for (int i = 0; i < 31; ++i) levels.push_back(1 + i % 3);
  ExpectExactResume(o, levels);
}

TEST(CurriculumSamplerTest, BadSchedules) {
  SamplerOptions o;
  o.name = "curriculum";
  o.curriculum = {{0, {4}, {}}};
  auto s = MakePromptSampler(o, {1, 2, 3}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("curriculum[0] asks for level 4, but the dataset has no prompts of that "
                        "level (levels present: 1, 2, 3)"));
  o.curriculum = {{5, {1}, {}}, {5, {2}, {}}};
  s = MakePromptSampler(o, {1, 2}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("curriculum[1].until_step must be greater than 5 (got 5)"));
  o.curriculum = {{0, {1, 2}, {1}}};
  s = MakePromptSampler(o, {1, 2}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("one entry per level"));
  o.curriculum = {};
  s = MakePromptSampler(o, {1, 2}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("needs a `curriculum:` list"));
}

TEST(PrioritizedSamplerTest, FrequenciesFollowOneMinusSuccessWithAFloor) {
  SamplerOptions o;
  o.name = "prioritized";
  o.floor = 0.05;
  auto s = Make(o, std::vector<int64_t>(5, 0));
  s->Observe(1, 4, 8);   // s = 0.5
  s->Observe(2, 9, 10);  // s = 0.9
  s->Observe(3, 6, 6);   // s = 1 -> floor
  s->Observe(4, 1, 4);   // s = 0.25
  // Prompt 0 never seen: s = initial_success = 0.
  const std::vector<double> weight = {1.0, 0.5, 0.1, 0.05, 0.75};
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  const int64_t draws = 200000;
  std::vector<int64_t> count(5, 0);
  for (int64_t i : s->Sample(draws, 0)) ++count[i];
  for (int k = 0; k < 5; ++k) {
    const double p = weight[k] / total;
    const double sigma = std::sqrt(p * (1 - p) / draws);
    EXPECT_NEAR(static_cast<double>(count[k]) / draws, p, 5 * sigma) << "prompt " << k;
  }
}

TEST(PrioritizedSamplerTest, DecayWeighsRecentObservationsMore) {
  SamplerOptions o;
  o.name = "prioritized";
  o.floor = 0.0;
  o.success_decay = 0.5;
  auto s = Make(o, {0, 0});
  s->Observe(0, 0, 4);  // attempts 4, successes 0
  s->Observe(0, 4, 4);  // attempts 0.5*4 + 4 = 6, successes 4: s = 2/3, weight 1/3
  s->Observe(1, 3, 4);  // s = 3/4, weight 1/4
  const int64_t draws = 100000;
  int64_t zero = 0;
  for (int64_t i : s->Sample(draws, 0)) zero += i == 0;
  const double p = (1.0 / 3) / (1.0 / 3 + 1.0 / 4);
  EXPECT_NEAR(static_cast<double>(zero) / draws, p, 5 * std::sqrt(p * (1 - p) / draws));
}

TEST(PrioritizedSamplerTest, ResumesExactly) {
  SamplerOptions o;
  o.name = "prioritized";
  o.success_decay = 0.9;
  ExpectExactResume(o, std::vector<int64_t>(37, 0));
}

TEST(PromptSamplerTest, BadStatesAreRejectedWithoutChangingTheSampler) {
  SamplerOptions uniform;
  SamplerOptions prioritized;
  prioritized.name = "prioritized";
  auto u = Make(uniform, std::vector<int64_t>(8, 0));
  auto p = Make(prioritized, std::vector<int64_t>(8, 0));
  auto u9 = Make(uniform, std::vector<int64_t>(9, 0));
  const std::string before = u->SaveState();
  struct Case {
    PromptSampler* sampler;
    std::string state;
    const char* message;
  } cases[] = {
      {u.get(), "{oops", "sampler state is not valid JSON"},
      {u.get(), "[1]", "sampler state must be a JSON object"},
      {u.get(), p->SaveState(), "sampler state is for the 'prioritized' sampler, not 'uniform'"},
      {u9.get(), u->SaveState(), "sampler state is for a dataset of 8 prompts; this dataset has 9"},
      {u.get(), R"({"sampler": "uniform", "dataset_size": 8, "seed": 1, "shuffle": true})",
       "sampler state lacks field 'epoch'"},
      {u.get(),
       R"({"sampler": "uniform", "dataset_size": 8, "seed": 1, "shuffle": true, "epoch": 0, "position": 99})",
       "position 99 in epoch 0, outside the dataset"},
      {p.get(),
       R"({"sampler": "prioritized", "dataset_size": 8, "rng": "x", "attempts": [], "successes": []})",
       "must hold 8 attempts and successes"},
  };
  for (const Case& c : cases) {
    absl::Status s = c.sampler->LoadState(c.state);
    ASSERT_FALSE(s.ok()) << c.state;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
  }
  EXPECT_EQ(u->SaveState(), before);
}

TEST(PromptSamplerTest, UnknownSamplerAndEmptyDataset) {
  SamplerOptions o;
  o.name = "lottery";
  auto s = MakePromptSampler(o, {0}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("unknown sampler 'lottery'"));
  s = MakePromptSampler(SamplerOptions(), {}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("empty dataset"));
}

TEST(PromptSamplerTest, ConfigSectionIsValidatedAtLoad) {
  auto job = config::LoadString<JobConfig>(
      "data:\n  sampler:\n    name: curriculum\n    curriculum:\n      - {until_step: 0, levels: "
      "[1]}\n"
      "      - {levels: [2]}\n",
      "s.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("curriculum[0].until_step must be greater than 0"));
  job =
      config::LoadString<JobConfig>("data: {sampler: {name: prioritized, floor: 1.5}}\n", "s.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("data.sampler.floor must be <= 1 (got 1.5)"));
}

// ---- Dynamic sampling ---------------------------------------------------------------------

TEST(GroupFilterTest, NeverKeepsAnAllEqualGroupAndReportsItsDropRate) {
  FilterGroupsOptions o;
  o.enable = true;
  o.max_num_gen_batches = 0;
  GroupFilter filter(o);
  std::mt19937_64 rng(11);
  std::bernoulli_distribution correct(0.3);
  filter.BeginBatch(16);
  int64_t offered = 0, dropped = 0, rounds = 0;
  std::vector<std::vector<double>> kept;
  while (filter.NeedsGeneration()) {
    filter.CountGeneration();
    ++rounds;
    for (int g = 0; g < 8; ++g) {  // 8 prompts per generation round, 4 samples each
      std::vector<double> rewards;
      for (int k = 0; k < 4; ++k) rewards.push_back(correct(rng) ? 1.0 : 0.0);
      GroupVerdict v = filter.Offer(rewards);
      const bool equal =
          std::all_of(rewards.begin(), rewards.end(), [&](double r) { return r == rewards[0]; });
      if (v == GroupVerdict::kSurplus) continue;
      ++offered;
      if (equal) {
        ++dropped;
        EXPECT_EQ(v, GroupVerdict::kDropEqual);
      } else {
        EXPECT_EQ(v, GroupVerdict::kKeep);
        kept.push_back(rewards);
      }
    }
  }
  EXPECT_TRUE(filter.FinishBatch().ok());
  EXPECT_EQ(kept.size(), 16u);
  EXPECT_GT(dropped, 0);
  auto m = filter.Metrics();
  EXPECT_DOUBLE_EQ(m["dynamic_sampling/drop_rate"], static_cast<double>(dropped) / offered);
  EXPECT_EQ(m["dynamic_sampling/dropped_groups"], dropped);
  EXPECT_EQ(m["dynamic_sampling/kept_groups"], 16);
  EXPECT_EQ(m["dynamic_sampling/gen_batches"], rounds);
  EXPECT_EQ(m["dynamic_sampling/partial_batch"], 0);
}

TEST(GroupFilterTest, CapOnGenerationRounds) {
  FilterGroupsOptions o;
  o.enable = true;
  o.max_num_gen_batches = 2;
  GroupFilter filter(o);
  filter.BeginBatch(4);
  int rounds = 0;
  while (filter.NeedsGeneration()) {
    filter.CountGeneration();
    ++rounds;
    filter.Offer({1, 1});
    filter.Offer({0, 1});
  }
  EXPECT_EQ(rounds, 2);
  absl::Status s = filter.FinishBatch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(
      std::string(s.message()),
      HasSubstr("dynamic sampling kept 2 of 4 groups after 2 generation rounds (2 groups "
                "had all-equal rewards); raise algorithm.filter_groups.max_num_gen_batches"));
  o.allow_partial_batch = true;
  GroupFilter partial(o);
  partial.BeginBatch(4);
  partial.CountGeneration();
  partial.Offer({0, 1});
  EXPECT_TRUE(partial.FinishBatch().ok());
  EXPECT_EQ(partial.Metrics()["dynamic_sampling/partial_batch"], 1);
}

TEST(GroupFilterTest, DisabledKeepsEverythingInOneRound) {
  GroupFilter filter{FilterGroupsOptions()};
  filter.BeginBatch(2);
  ASSERT_TRUE(filter.NeedsGeneration());
  filter.CountGeneration();
  EXPECT_EQ(filter.Offer({1, 1}), GroupVerdict::kKeep);
  EXPECT_EQ(filter.Offer({0, 0}), GroupVerdict::kKeep);
  EXPECT_EQ(filter.Offer({0, 1}), GroupVerdict::kSurplus);
  EXPECT_FALSE(filter.NeedsGeneration());
  EXPECT_TRUE(filter.FinishBatch().ok());
}

TEST(GroupFilterTest, RunningTotalsSurviveSaveAndLoad) {
  FilterGroupsOptions o;
  o.enable = true;
  GroupFilter a(o);
  a.BeginBatch(3);
  a.CountGeneration();
  a.Offer({1, 1});
  a.Offer({0, 1});
  GroupFilter b(o);
  ASSERT_TRUE(b.LoadState(a.SaveState()).ok());
  EXPECT_EQ(b.SaveState(), a.SaveState());
  EXPECT_DOUBLE_EQ(b.Metrics()["dynamic_sampling/total_drop_rate"], 0.5);
  absl::Status bad = b.LoadState(R"({"total_offered": 1, "total_dropped": 2})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.message()), HasSubstr("inconsistent counts"));
  bad = b.LoadState("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.message()), HasSubstr("dynamic sampling state is not valid"));
}

}  // namespace
}  // namespace ponder::trainer
