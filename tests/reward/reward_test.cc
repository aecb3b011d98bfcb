// Composite rewards, the `reward:` config section, and concurrent batch scoring with per-item
// errors and timeouts.
#include "reward/reward.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/config.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;

struct Job {
  RewardOptions reward;
  void Bind(config::Binder& b) { b.Field("reward", reward); }
};

absl::StatusOr<RewardOptions> Load(const std::string& yaml) {
  absl::StatusOr<Job> job = config::LoadString<Job>(yaml, "job.yaml");
  if (!job.ok()) return job.status();
  return job->reward;
}

TEST(RewardOptionsTest, DefaultsToMath) {
  absl::StatusOr<RewardOptions> options = Load("");
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->verifiers.size(), 1u);
  EXPECT_EQ(options->verifiers[0].name, "math");
  EXPECT_DOUBLE_EQ(options->timeout_s, 30.0);
}

TEST(RewardOptionsTest, UnknownVerifierIsAConfigErrorWithFileAndLine) {
  absl::StatusOr<RewardOptions> options = Load(
      "reward:\n"
      "  verifiers:\n"
      "    - name: maths\n");
  ASSERT_FALSE(options.ok());
  EXPECT_THAT(std::string(options.status().message()),
              HasSubstr("job.yaml:3:13: reward.verifiers[0].name must be a registered verifier "
                        "(got 'maths'; registered: "));
}

TEST(RewardOptionsTest, BadOptionsBlockIsAConfigErrorWithFileAndLine) {
  absl::StatusOr<RewardOptions> options = Load(
      "reward:\n"
      "  sources:\n"
      "    countdown:\n"
      "      - name: countdown\n"
      "        options:\n"
      "          format_scor: 0.2\n"
      "      - name: format\n"
      "        options: {pattern: '(unclosed'}\n");
  ASSERT_FALSE(options.ok());
  std::string message(options.status().message());
  EXPECT_THAT(message, HasSubstr("job.yaml:6:11: unknown key "
                                 "'reward.sources.countdown[0].options.format_scor'"));
  EXPECT_THAT(message,
              HasSubstr("did you mean 'reward.sources.countdown[0].options.format_score'"));
  EXPECT_THAT(message, HasSubstr("job.yaml:8:"));
  EXPECT_THAT(message, HasSubstr("reward.sources.countdown[1].options.pattern must be a valid "
                                 "regular expression"));
}

TEST(RewardOptionsTest, DuplicateTermsNeedALabel) {
  absl::StatusOr<RewardOptions> options = Load(
      "reward:\n"
      "  verifiers:\n"
      "    - name: format\n"
      "    - name: format\n"
      "      options: {tags: [answer]}\n");
  ASSERT_FALSE(options.ok());
  EXPECT_THAT(std::string(options.status().message()),
              HasSubstr("reward has 'format' twice in verifiers; give one of them a distinct "
                        "`label`"));
  options = Load(
      "reward:\n"
      "  verifiers:\n"
      "    - name: format\n"
      "    - name: format\n"
      "      label: answer_tag\n"
      "      options: {tags: [answer]}\n");
  EXPECT_TRUE(options.ok()) << options.status();
}

TEST(RewardOptionsTest, WrittenBackInFull) {
  absl::StatusOr<Job> job = config::LoadString<Job>(
      "reward:\n  verifiers:\n    - name: math\n      options: {tail_chars: 300}\n", "job.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  std::string yaml = config::ToYaml(*job);
  EXPECT_THAT(yaml, HasSubstr("tail_chars: 300"));
  EXPECT_THAT(yaml, HasSubstr("timeout_s: 30"));
  EXPECT_THAT(yaml, HasSubstr("overlong:"));
  absl::StatusOr<Job> again = config::LoadString<Job>(yaml, "written.yaml");
  EXPECT_TRUE(again.ok()) << again.status();
}

absl::StatusOr<std::unique_ptr<Reward>> FromYaml(const std::string& yaml) {
  absl::StatusOr<RewardOptions> options = Load(yaml);
  if (!options.ok()) return options.status();
  return Reward::Create(*options);
}

VerifyInput Item(std::string response, nlohmann::json truth, std::string source = "") {
  VerifyInput input;
  input.response = std::move(response);
  input.ground_truth = std::move(truth);
  input.data_source = std::move(source);
  return input;
}

TEST(RewardTest, CompositeIsAWeightedSumChosenByDataSource) {
  auto reward = FromYaml(
      "reward:\n"
      "  verifiers:\n"
      "    - name: math\n"
      "    - name: format\n"
      "      weight: 0.5\n"
      "      options: {tags: [answer]}\n"
      "  sources:\n"
      "    countdown:\n"
      "      - name: countdown\n"
      "        weight: 2\n");
  ASSERT_TRUE(reward.ok()) << reward.status();
  // Default reward: math right (1) + 0.5 * format right (1) = 1.5.
  absl::StatusOr<VerifyResult> r = (*reward)->Score(Item("<answer>\\boxed{4}</answer>", "4"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->score, 1.5);
  EXPECT_EQ(r->correct, true);
  EXPECT_DOUBLE_EQ(r->components.at("math"), 1.0);
  EXPECT_DOUBLE_EQ(r->components.at("format"), 1.0);
  EXPECT_EQ(r->details["math"]["extracted"], "4");
  // Math wrong, format right: 0.5, not correct (format does not vote).
  r = (*reward)->Score(Item("<answer>\\boxed{5}</answer>", "4"));
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->score, 0.5);
  EXPECT_EQ(r->correct, false);
  // A countdown sample uses the countdown reward, weight 2.
  r = (*reward)->Score(Item("<answer>2*3</answer>",
                            nlohmann::json{{"numbers", {2, 3}}, {"target", 6}}, "countdown"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->score, 2.0);
  EXPECT_EQ(r->components.size(), 1u);
  EXPECT_DOUBLE_EQ(r->components.at("countdown"), 1.0);
  // A named verifier or a configured reward can be asked for explicitly.
  r = (*reward)->ScoreWith("exact_match", Item("yes", "yes"));
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->score, 1.0);
  r = (*reward)->ScoreWith(
      "reward:countdown",
      Item("<answer>2+3</answer>", nlohmann::json{{"numbers", {2, 3}}, {"target", 6}}));
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->score, 2 * 0.1);
}

TEST(RewardTest, ListVerifiersShowsRegisteredAndConfigured) {
  auto reward = FromYaml("reward:\n  sources:\n    gsm8k: [{name: math}]\n");
  ASSERT_TRUE(reward.ok()) << reward.status();
  std::vector<std::string> names;
  for (const VerifierInfo& info : (*reward)->ListVerifiers()) names.push_back(info.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"math", "format", "reward", "reward:gsm8k"}));
}

TEST(RewardTest, BatchKeepsOrderAndGivesPerItemErrors) {
  auto reward = FromYaml("reward:\n  threads: 2\n");
  ASSERT_TRUE(reward.ok());
  std::vector<VerifyInput> items;
  for (int i = 0; i < 50; ++i) items.push_back(Item("\\boxed{" + std::to_string(i) + "}", "7"));
  items[3].ground_truth = nlohmann::json::object();  // a bad item
  auto results = (*reward)->ScoreBatch(items, {});
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 50u);
  for (int i = 0; i < 50; ++i) {
    if (i == 3) {
      EXPECT_EQ((*results)[i].status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string((*results)[i].status.message()), HasSubstr("math: ground_truth"));
      continue;
    }
    ASSERT_TRUE((*results)[i].status.ok()) << i << ": " << (*results)[i].status;
    EXPECT_EQ((*results)[i].result.correct, i == 7) << i;
  }
  // An unknown verifier fails the request, not the items.
  BatchOptions bad;
  bad.verifier = "nope";
  auto refused = (*reward)->ScoreBatch(items, bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  // A verifier that needs options it does not have is a clear error too.
  auto empty = (*reward)->ScoreBatch({}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// A verifier that sleeps for the number of milliseconds in its response.
class SleepVerifier : public Verifier {
 public:
  struct Options {
    void Bind(config::Binder&) {}
  };
  static absl::StatusOr<std::unique_ptr<SleepVerifier>> Create(const Options&) {
    return std::make_unique<SleepVerifier>();
  }
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(input.response)));
    VerifyResult r;
    r.score = 1;
    return r;
  }
};

TEST(RewardTest, SlowItemsTimeOutAloneAndThePoolKeepsItsCapacity) {
  VerifierRegistry registry = VerifierRegistry::WithBuiltins();
  registry.Register<SleepVerifier>("sleep", "sleeps");
  RewardOptions options;
  options.verifiers[0].name = "sleep";
  options.threads = 2;
  auto reward = Reward::Create(options, registry);
  ASSERT_TRUE(reward.ok()) << reward.status();
  // Two items hang for 1.5 s (both pool threads), eight are quick; timeout 200 ms.
  std::vector<VerifyInput> items = {Item("1500", ""), Item("1500", "")};
  for (int i = 0; i < 8; ++i) items.push_back(Item("1", ""));
  BatchOptions batch;
  batch.timeout = absl::Milliseconds(200);
  absl::Time start = absl::Now();
  auto results = (*reward)->ScoreBatch(items, batch);
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*results)[1].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string((*results)[0].status.message()), HasSubstr("longer than 200ms"));
  for (int i = 2; i < 10; ++i) EXPECT_TRUE((*results)[i].status.ok()) << i;
  // Replacement workers ran the quick items while the slow ones were still sleeping.
  EXPECT_LT(took, absl::Milliseconds(1400));
}

TEST(RewardTest, CancelledBatchSkipsItemsNotStarted) {
  VerifierRegistry registry = VerifierRegistry::WithBuiltins();
  registry.Register<SleepVerifier>("sleep", "sleeps");
  RewardOptions options;
  options.verifiers[0].name = "sleep";
  options.threads = 1;
  auto reward = Reward::Create(options, registry);
  ASSERT_TRUE(reward.ok());
  std::vector<VerifyInput> items(5, Item("100", ""));
  CancelFlag cancel = std::make_shared<std::atomic<bool>>(false);
  absl::Notification done;
  std::vector<ItemResult> out;
  ASSERT_TRUE((*reward)
                  ->ScoreBatchAsync(
                      items, {},
                      [&](std::vector<ItemResult> r) {
                        out = std::move(r);
                        done.Notify();
                      },
                      cancel)
                  .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  cancel->store(true);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(out[4].status.code(), absl::StatusCode::kCancelled);
}

TEST(RewardTest, VerifierThatCannotBeBuiltWithDefaultsIsAClearError) {
  VerifierRegistry registry = VerifierRegistry::WithBuiltins();
  VerifierRegistry::Entry entry;
  entry.name = "needs_options";
  entry.factory = [](const config::Block&) -> absl::StatusOr<std::unique_ptr<Verifier>> {
    return absl::InvalidArgumentError("address must be set");
  };
  ASSERT_TRUE(registry.Add(entry).ok());
  auto reward = Reward::Create(RewardOptions(), registry);
  ASSERT_TRUE(reward.ok());
  absl::Status status = (*reward)->CheckVerifier("needs_options");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("verifier 'needs_options' is not configured on this server and cannot "
                        "be built with default options"));
}

}  // namespace
}  // namespace ponder::reward
