#include "trainer/demo_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_split.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) { return ::testing::TempDir() + name; }

TEST(MetricsFollowerTest, ReturnsCompleteLinesOnceAndWaitsForTornOnes) {
  const std::string path = TempPath("demo_report_follow.jsonl");
  std::remove(path.c_str());
  MetricsFollower follower(path);
  auto none = follower.Poll();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty()) << "no file yet";

  std::ofstream out(path);
  out << R"({"step": 0, "wall_time": 100.5, "metrics": {"val/arithmetic/mean@8": 0.25}})"
      << "\n"
      << R"({"step": 1, "metrics": {"reward/score/mean": 0.5}})"
      << "\n"
      << R"({"step": 2, "metr)";  // still being written
  out.flush();
  auto first = follower.Poll();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].step, 0);
  EXPECT_DOUBLE_EQ((*first)[0].wall_time, 100.5);
  EXPECT_DOUBLE_EQ((*first)[0].metrics.at("val/arithmetic/mean@8"), 0.25);
  EXPECT_DOUBLE_EQ((*first)[1].metrics.at("reward/score/mean"), 0.5);

  out << R"(ics": {"sft/loss": 1.5}})"
      << "\n";
  out.flush();
  auto second = follower.Poll();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].step, 2);
  EXPECT_DOUBLE_EQ((*second)[0].metrics.at("sft/loss"), 1.5);
  auto third = follower.Poll();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->empty());

  out << "not json\n";
  out.flush();
  auto bad = follower.Poll();
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("demo_report_follow.jsonl:4: not a metrics record"));
}

TEST(FindEvalTest, ReadsTheSetsFiguresOnly) {
  MetricsLine line{.step = 50,
                   .wall_time = 7,
                   .metrics = {{"val/arithmetic/mean@8", 0.5},
                               {"val/arithmetic/pass@8", 0.9},
                               {"val/arithmetic/greedy_acc", 0.75},
                               {"val/other/mean@8", 0.1}}};
  std::optional<EvalPoint> e = FindEval(line, "arithmetic", 8);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->step, 50);
  EXPECT_DOUBLE_EQ(e->mean_at_k, 0.5);
  EXPECT_DOUBLE_EQ(e->pass_at_k, 0.9);
  EXPECT_DOUBLE_EQ(e->greedy, 0.75);
  EXPECT_FALSE(FindEval(line, "arithmetic", 4).has_value()) << "another k";
  EXPECT_FALSE(FindEval(line, "countdown", 8).has_value()) << "another set";
}

TEST(DemoSummaryTest, EndsWithTheControlTheWallTimeAndTheHeadlineLine) {
  DemoOutcome o;
  o.task = "3-digit arithmetic (+)";
  o.algorithm = "grpo";
  o.k = 8;
  o.warm_start = {.greedy = 0.3, .mean_at_k = 0.125, .pass_at_k = 0.5};
  o.rl = {.step = 900, .greedy = 0.8, .mean_at_k = 0.7, .pass_at_k = 0.9};
  o.control = {.step = 3600, .greedy = 0.4, .mean_at_k = 0.45, .pass_at_k = 0.8};
  o.rl_steps = 900;
  o.control_steps = 3600;
  o.warm_start_s = 90;
  o.side_by_side_s = 420;
  o.total_s = 540;
  o.run_dir = "runs/demo";
  const std::string summary = DemoSummary(o);
  EXPECT_THAT(summary, HasSubstr("RL: grpo + verifier (900 steps, 7.0 min)"));
  EXPECT_THAT(summary, HasSubstr("+57.5 points of held-out mean@8 over the warm start, +25.0 over "
                                 "the control"));
  EXPECT_THAT(summary, HasSubstr("run directory: runs/demo (its dashboard: ponder dashboard --runs "
                                 "runs/demo)"));
  std::vector<std::string> lines = absl::StrSplit(summary, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[lines.size() - 3],
            "control (continued SFT on the same demonstrations): held-out accuracy 12.5% -> 45.0%");
  EXPECT_EQ(lines[lines.size() - 2],
            "wall time: 9.0 min (warm start 1.5 min, RL and control side by side 7.0 min; build "
            "excluded)");
  EXPECT_EQ(lines.back(), "held-out accuracy: 12.5% -> 70.0%");
}

}  // namespace
}  // namespace ponder::trainer
