#include "base/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

enum class Mode { kFast, kExact };

struct Inner {
  double weight = 1.0;
  std::string name = "math";
  Block options;
  void Bind(Binder& b) {
    b.Field("weight", weight).AtLeast(0.0);
    b.Field("name", name).NotEmpty();
    b.Field("options", options);
  }
};

struct InnerOptions {
  bool strict = false;
  int32_t digits = 3;
  void Bind(Binder& b) {
    b.Field("strict", strict);
    b.Field("digits", digits).InRange(1, 9);
  }
};

struct Section {
  int32_t steps = 10;
  double lr = 1e-5;
  bool flag = false;
  uint64_t budget = 100;
  Mode mode = Mode::kFast;
  std::vector<int32_t> stops = {2};
  std::optional<double> clip;
  std::vector<Inner> parts;
  std::map<std::string, Inner> by_source;
  void Bind(Binder& b) {
    b.Field("steps", steps).AtLeast(1);
    b.Field("lr", lr).GreaterThan(0.0);
    b.Field("flag", flag);
    b.Field("budget", budget);
    b.Enum("mode", mode, {{"fast", Mode::kFast}, {"exact", Mode::kExact}});
    b.Field("stops", stops);
    b.Field("clip", clip);
    b.Field("parts", parts);
    b.Field("by_source", by_source);
    b.Renamed("learning_rate", "lr", "as in pair:");
  }
};

struct Pair {
  int32_t low = 0;
  int32_t high = 1;
  void Bind(Binder& b) {
    b.Field("low", low);
    b.Field("high", high);
  }
  absl::Status Validate() const {
    if (low >= high) return absl::InvalidArgumentError("low must be below high");
    return absl::OkStatus();
  }
};

struct Root {
  Section train;
  Pair pair;
  void Bind(Binder& b) {
    b.Field("train", train);
    b.Field("pair", pair);
  }
};

absl::StatusOr<Root> Load(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return LoadString<Root>(yaml, "job.yaml", overrides);
}

std::string ErrorOf(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  absl::StatusOr<Root> root = Load(yaml, overrides);
  EXPECT_FALSE(root.ok());
  return root.ok() ? "" : std::string(root.status().message());
}

TEST(ConfigTest, EmptyFileGivesDefaults) {
  absl::StatusOr<Root> root = Load("");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->train.steps, 10);
  EXPECT_EQ(root->train.lr, 1e-5);
  EXPECT_EQ(root->train.stops, std::vector<int32_t>{2});
  EXPECT_FALSE(root->train.clip.has_value());
}

TEST(ConfigTest, ReadsEveryFieldType) {
  absl::StatusOr<Root> root = Load(R"(
train:
  steps: 7
  lr: 3e-4
  flag: yes
  budget: 18446744073709551615
  mode: exact
  stops: [1, 5]
  clip: 0.2
  parts:
    - {name: format, weight: 0.5}
    - name: math
      options: {strict: true}
  by_source:
    gsm8k: {weight: 2}
pair: {low: 1, high: 3}
)");
  ASSERT_TRUE(root.ok()) << root.status();
  const Section& t = root->train;
  EXPECT_EQ(t.steps, 7);
  EXPECT_DOUBLE_EQ(t.lr, 3e-4);
  EXPECT_TRUE(t.flag);
  EXPECT_EQ(t.budget, UINT64_MAX);
  EXPECT_EQ(t.mode, Mode::kExact);
  EXPECT_EQ(t.stops, (std::vector<int32_t>{1, 5}));
  ASSERT_TRUE(t.clip.has_value());
  EXPECT_DOUBLE_EQ(*t.clip, 0.2);
  ASSERT_EQ(t.parts.size(), 2u);
  EXPECT_EQ(t.parts[0].name, "format");
  EXPECT_DOUBLE_EQ(t.parts[0].weight, 0.5);
  EXPECT_DOUBLE_EQ(t.parts[1].weight, 1.0);
  EXPECT_DOUBLE_EQ(t.by_source.at("gsm8k").weight, 2.0);

  InnerOptions inner;
  ASSERT_TRUE(t.parts[1].options.Decode(inner).ok());
  EXPECT_TRUE(inner.strict);
  EXPECT_EQ(inner.digits, 3);
}

TEST(ConfigTest, RenamedKeyIsAnErrorNamingTheNewKey) {
  std::string error = ErrorOf("train:\n  steps: 3\n  learning_rate: 0.1\n");
  EXPECT_EQ(error, "job.yaml:3:18: train.learning_rate was renamed to train.lr (as in pair:)");
  error = ErrorOf("", {"train.learning_rate=0.1"});
  EXPECT_THAT(error, HasSubstr("train.learning_rate was renamed to train.lr (as in pair:)"));
  EXPECT_THAT(error, Not(HasSubstr("unknown key")));
  // The old name is neither written nor suggested for a typo.
  absl::StatusOr<Root> root = Load("train: {lr: 0.5}\n");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_THAT(ToYaml(*root), Not(HasSubstr("learning_rate")));
  EXPECT_THAT(ErrorOf("train:\n  learning_rat: 1\n"), Not(HasSubstr("learning_rate")));
}

TEST(ConfigTest, UnknownKeyNamesKeyFileLineAndSuggestion) {
  std::string error = ErrorOf("train:\n  steps: 3\n  lrr: 0.1\n");
  EXPECT_THAT(error, HasSubstr("job.yaml:3:3: unknown key 'train.lrr'; did you mean 'train.lr'?"));
}

TEST(ConfigTest, UnknownKeyInWrongSectionSuggestsTheRightOne) {
  std::string error = ErrorOf("pair:\n  steps: 3\n");
  EXPECT_THAT(error, HasSubstr("unknown key 'pair.steps'; did you mean 'train.steps'?"));
}

TEST(ConfigTest, UnknownKeyWithoutAnyCloseMatchHasNoHint) {
  std::string error = ErrorOf("train:\n  zzzzzzzz: 3\n");
  EXPECT_THAT(error, AllOf(HasSubstr("unknown key 'train.zzzzzzzz'"), Not(HasSubstr("did you"))));
}

TEST(ConfigTest, UnknownTopLevelSection) {
  std::string error = ErrorOf("trian:\n  steps: 3\n");
  EXPECT_THAT(error, HasSubstr("job.yaml:1:1: unknown key 'trian'; did you mean 'train'?"));
}

TEST(ConfigTest, UnknownKeyInsideListItem) {
  std::string error = ErrorOf("train:\n  parts:\n    - {name: a, wieght: 2}\n");
  EXPECT_THAT(error, HasSubstr("unknown key 'train.parts[0].wieght'; did you mean "
                               "'train.parts[0].weight'?"));
}

TEST(ConfigTest, WrongTypeNamesKeyValueAndLine) {
  EXPECT_THAT(ErrorOf("train:\n  steps: many\n"),
              HasSubstr("job.yaml:2:10: train.steps expects an integer, got 'many'"));
  EXPECT_THAT(ErrorOf("train:\n  lr: fast\n"), HasSubstr("train.lr expects a number, got 'fast'"));
  EXPECT_THAT(ErrorOf("train:\n  flag: 3\n"),
              HasSubstr("train.flag expects true or false, got '3'"));
  EXPECT_THAT(ErrorOf("train:\n  steps: 1.5\n"),
              HasSubstr("train.steps expects an integer, got '1.5'"));
  EXPECT_THAT(ErrorOf("train:\n  stops: 3\n"),
              HasSubstr("train.stops must be a list such as [a, b], got '3'"));
  EXPECT_THAT(ErrorOf("train: 5\n"), HasSubstr("train must be a section (a map of keys), got '5'"));
  EXPECT_THAT(ErrorOf("train:\n  mode: slow\n"),
              HasSubstr("train.mode unknown value 'slow' (choose one of: fast, exact)"));
  EXPECT_THAT(ErrorOf("train:\n  budget: -1\n"), HasSubstr("train.budget must be >= 0 (got -1)"));
  EXPECT_THAT(ErrorOf("train:\n  steps: 99999999999\n"),
              HasSubstr("train.steps value 99999999999 does not fit in a 32-bit integer"));
  EXPECT_THAT(ErrorOf("train:\n  stops: [1, x]\n"),
              HasSubstr("train.stops[1] expects an integer, got 'x'"));
}

TEST(ConfigTest, OutOfRangeNamesKeyAndValue) {
  EXPECT_THAT(ErrorOf("train:\n  steps: 0\n"),
              HasSubstr("job.yaml:2:10: train.steps must be >= 1 (got 0)"));
  EXPECT_THAT(ErrorOf("train:\n  lr: -0.5\n"), HasSubstr("train.lr must be > 0 (got -0.5)"));
  EXPECT_THAT(ErrorOf("train:\n  parts: [{name: ''}]\n"),
              HasSubstr("train.parts[0].name must not be empty"));
}

TEST(ConfigTest, CrossFieldValidationNamesSection) {
  EXPECT_THAT(ErrorOf("pair: {low: 5, high: 2}\n"),
              HasSubstr("job.yaml:1:7: pair low must be below high"));
}

TEST(ConfigTest, ReportsEveryProblemAtOnce) {
  std::string error = ErrorOf("train:\n  steps: 0\n  lr: x\n  bogus: 1\n");
  EXPECT_THAT(error,
              AllOf(HasSubstr("train.steps"), HasSubstr("train.lr"), HasSubstr("train.bogus")));
}

TEST(ConfigTest, MalformedYamlGivesLineAndColumn) {
  absl::StatusOr<Root> root = Load("train:\n  steps: [1, 2\n  lr: 3\n");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(std::string(root.status().message()),
              AllOf(HasSubstr("job.yaml:"), HasSubstr("malformed YAML")));
  root = Load("train:\n  steps: 1\n bad indent: 2\n");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("job.yaml:3:"));
}

TEST(ConfigTest, AKeyGivenTwiceNamesBothLines) {
  // A second `train:` block appended to a file would otherwise be ignored without a word.
  EXPECT_THAT(ErrorOf("train:\n  steps: 3\npair: {low: 0}\ntrain:\n  steps: 5\n"),
              HasSubstr("job.yaml:4:1: 'train' is given twice (lines 1 and 4)"));
  EXPECT_THAT(ErrorOf("train: {steps: 3, lr: 0.1, steps: 4}\n"),
              HasSubstr("job.yaml:1:28: 'train.steps' is given twice (lines 1 and 1)"));
  EXPECT_THAT(ErrorOf("train:\n  parts:\n    - {name: a}\n    - {name: b, name: c}\n"),
              HasSubstr("job.yaml:4:17: 'train.parts[1].name' is given twice"));
}

TEST(ConfigTest, TopLevelMustBeAMap) {
  absl::StatusOr<Root> root = Load("- a\n- b\n");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("must be a map of sections"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<Root> root = LoadFile<Root>("/nonexistent/job.yaml");
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("/nonexistent/job.yaml"));
}

TEST(ConfigTest, OverridesReplaceAndCreateValues) {
  absl::StatusOr<Root> root =
      Load("train:\n  steps: 3\n",
           {"train.steps=9", "train.lr=2e-3", "train.stops=[7, 8]", "pair.high=4",
            "train.parts=[{name: x}]", "train.parts.0.weight=0.25"});
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->train.steps, 9);
  EXPECT_DOUBLE_EQ(root->train.lr, 2e-3);
  EXPECT_EQ(root->train.stops, (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(root->pair.high, 4);
  ASSERT_EQ(root->train.parts.size(), 1u);
  EXPECT_DOUBLE_EQ(root->train.parts[0].weight, 0.25);
}

TEST(ConfigTest, OverrideErrorsNameTheOverride) {
  EXPECT_THAT(ErrorOf("", {"train.lr=abc"}),
              HasSubstr("command-line override 'train.lr=abc': train.lr expects a number"));
  EXPECT_THAT(ErrorOf("", {"train.lrate=1"}),
              HasSubstr("command-line override 'train.lrate=1': unknown key 'train.lrate'; did "
                        "you mean 'train.lr'?"));
  EXPECT_THAT(ErrorOf("", {"train.parts=[{name: a}]", "train.parts.0.weight=-1"}),
              HasSubstr("command-line override 'train.parts.0.weight=-1': train.parts[0].weight "
                        "must be >= 0 (got -1)"));
  for (const char* bad : {"train.lr", "=3", "train..lr=3"}) {
    absl::StatusOr<Root> root = Load("", {bad});
    ASSERT_FALSE(root.ok()) << bad;
    EXPECT_THAT(std::string(root.status().message()), HasSubstr(bad));
  }
  absl::StatusOr<Root> root = Load("train: {steps: 3}\n", {"train.steps.x=1"});
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("'train.steps' is a value"));
  root = Load("", {"train.stops=[1"});
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("not valid YAML"));
}

TEST(ConfigTest, BlockDecodeReportsItsOwnErrors) {
  absl::StatusOr<Root> root =
      Load("train:\n  parts:\n    - name: math\n      options: {digits: 12, strikt: true}\n");
  ASSERT_TRUE(root.ok()) << root.status();
  InnerOptions inner;
  absl::Status status = root->train.parts[0].options.Decode(inner);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("job.yaml:4:25: train.parts[0].options.digits must be <= 9 (got 12)"),
                    HasSubstr("unknown key 'train.parts[0].options.strikt'")));
}

TEST(ConfigTest, ToYamlRoundTripsExactly) {
  absl::StatusOr<Root> root = Load(R"(
train:
  steps: 7
  lr: 0.1
  budget: 5
  mode: exact
  stops: [1, 5]
  clip: 1e-07
  parts:
    - name: "true"
      weight: 0.3
      options: {strict: true, digits: 4}
  by_source: {gsm8k: {name: "", weight: 2}}
)");
  // An empty name is rejected; use a valid config for the round trip.
  ASSERT_FALSE(root.ok());
  root = Load(R"(
train:
  steps: 7
  lr: 0.1
  mode: exact
  stops: [1, 5]
  clip: 1e-07
  parts:
    - name: "true"
      weight: 0.3
      options: {strict: true, digits: 4}
  by_source: {gsm8k: {name: "123", weight: 2}}
)");
  ASSERT_TRUE(root.ok()) << root.status();
  std::string yaml = ToYaml(*root);
  EXPECT_THAT(yaml,
              AllOf(HasSubstr("lr: 0.1\n"), HasSubstr("clip: 1e-07"), HasSubstr("mode: exact"),
                    HasSubstr("name: \"true\""), HasSubstr("name: \"123\"")));
  absl::StatusOr<Root> again = Load(yaml);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << yaml;
  EXPECT_EQ(ToYaml(*again), yaml);
  EXPECT_EQ(again->train.parts[0].name, "true");
  EXPECT_EQ(again->train.by_source.at("gsm8k").name, "123");
  EXPECT_DOUBLE_EQ(*again->train.clip, 1e-7);
  InnerOptions inner;
  ASSERT_TRUE(again->train.parts[0].options.Decode(inner).ok());
  EXPECT_EQ(inner.digits, 4);
}

TEST(ConfigTest, FormatDoubleIsShortestRoundTrip) {
  EXPECT_EQ(internal::FormatDouble(0.1), "0.1");
  EXPECT_EQ(internal::FormatDouble(1e-5), "1e-05");
  EXPECT_EQ(internal::FormatDouble(3.0), "3");
  EXPECT_EQ(internal::FormatDouble(std::numeric_limits<double>::infinity()), ".inf");
}

}  // namespace
}  // namespace ponder::config
