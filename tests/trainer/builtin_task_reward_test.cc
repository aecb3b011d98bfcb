// The built-in tasks' ground truth and demonstrations against the reward library's verifiers
// (the ones a job uses for them): exact_match reading the last line for arithmetic, countdown
// for countdown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reward/countdown_verifier.h"
#include "reward/exact_match_verifier.h"
#include "trainer/builtin_task.h"

namespace ponder::trainer {
namespace {

TaskSplits Splits(const BuiltinTask& task, BuiltinTaskOptions o) {
  auto splits = GenerateTaskSplits(task, o);
  EXPECT_TRUE(splits.ok()) << splits.status();
  return *splits;
}

TEST(BuiltinTaskRewardTest, ArithmeticDemonstrationsVerifyWithExactMatchOnTheLastLine) {
  BuiltinTaskOptions o;
  o.name = "arithmetic";
  o.levels = {2, 3};
  o.operators = {"+", "-", "*"};
  o.train_size = 150;
  o.val_size = 0;
  auto task = MakeBuiltinTask(o);
  reward::ExactMatchOptions options;
  options.location.extract = reward::AnswerLocation::kLastLine;
  auto verifier = reward::ExactMatchVerifier::Create(options);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  std::mt19937_64 rng(1);
  const TaskSplits splits = Splits(**task, o);
  for (const PromptRecord& r : splits.train.records()) {
    for (auto style : {DemonstrationStyle::kAnswer, DemonstrationStyle::kChainOfThought}) {
      reward::VerifyInput in;
      in.prompt = r.text;
      in.response = *(*task)->Demonstrate(r, style, rng);
      in.ground_truth = r.ground_truth;
      in.data_source = r.data_source;
      auto result = (*verifier)->Score(in);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->correct, true) << r.text << " -> " << in.response;
      // The same response with the last digit changed is wrong.
      in.response.back() = in.response.back() == '9' ? '0' : in.response.back() + 1;
      EXPECT_EQ((*verifier)->Score(in)->correct, false) << in.response;
    }
  }
}

TEST(BuiltinTaskRewardTest, CountdownDemonstrationsVerifyWithTheCountdownVerifier) {
  BuiltinTaskOptions o;
  o.name = "countdown";
  o.levels = {2, 3, 4};
  o.train_size = 90;
  o.val_size = 0;
  auto task = MakeBuiltinTask(o);
  auto verifier = reward::CountdownVerifier::Create(reward::CountdownOptions());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  std::mt19937_64 rng(2);
  const TaskSplits splits = Splits(**task, o);
  for (const PromptRecord& r : splits.train.records()) {
    for (auto style : {DemonstrationStyle::kAnswer, DemonstrationStyle::kChainOfThought}) {
      reward::VerifyInput in;
      in.prompt = r.text;
      in.response = *(*task)->Demonstrate(r, style, rng);
      in.ground_truth = r.ground_truth;
      in.data_source = r.data_source;
      auto result = (*verifier)->Score(in);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->correct, true) << r.text << " -> " << in.response;
    }
  }
}

}  // namespace
}  // namespace ponder::trainer
