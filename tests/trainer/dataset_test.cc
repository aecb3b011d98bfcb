#include "trainer/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "trainer/data_options.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path =
      (std::filesystem::temp_directory_path() / ("ponder_dataset_test_" + name)).string();
  std::ofstream(path) << text;
  return path;
}

TEST(DatasetTest, ReadsVerlRows) {
  JsonlFormat format;
  format.level_key = "extra_info.level";
  auto data =
      PromptDataset::LoadJsonl(testing::SourcePath("tests/data/trainer/gsm8k_verl.jsonl"), format);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 4u);
  const PromptRecord& first = (*data)[0];
  EXPECT_TRUE(first.text.empty());
  ASSERT_EQ(first.messages.size(), 1u);
  EXPECT_EQ(first.messages[0].role, "user");
  EXPECT_THAT(first.messages[0].content, HasSubstr("Janet"));
  EXPECT_EQ(first.ground_truth, "18");
  EXPECT_EQ(first.data_source, "openai/gsm8k");
  EXPECT_EQ(first.extra_info["split"], "test");
  EXPECT_THAT(first.origin, HasSubstr("gsm8k_verl.jsonl:1"));
  EXPECT_EQ(data->Levels(), (std::vector<int64_t>{1, 2, 1, 2}));
  EXPECT_EQ(data->skipped_lines(), 0);
}

TEST(DatasetTest, ConfigurableKeysReadRawGsm8k) {
  JsonlFormat format;
  format.prompt_key = "question";
  format.ground_truth_key = "answer";
  format.data_source_key = "";
  auto data =
      PromptDataset::LoadJsonl(testing::SourcePath("tests/data/trainer/gsm8k_raw.jsonl"), format);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 3u);
  EXPECT_THAT((*data)[0].text, HasSubstr("Janet"));
  EXPECT_THAT((*data)[0].ground_truth.get<std::string>(), HasSubstr("#### 18"));
  EXPECT_TRUE((*data)[0].messages.empty());
  EXPECT_EQ((*data)[0].data_source, "");
}

TEST(DatasetTest, LiteralDottedKeyWinsOverNestedWalk) {
  auto record = PromptDataset::ParseRow(
      R"({"prompt": "p", "reward_model.ground_truth": "flat", "reward_model": {"ground_truth": "nested"}})",
      JsonlFormat(), "x:1");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->ground_truth, "flat");
}

struct BadRow {
  const char* line;
  const char* message;
};

TEST(DatasetTest, EveryBadRowNamesFileLineAndProblem) {
  JsonlFormat format;
  format.level_key = "level";
  const BadRow cases[] = {
      {"{not json", "not valid JSON"},
      {"[1, 2]", "a row must be a JSON object"},
      {R"({"reward_model": {"ground_truth": "1"}, "level": 1})", "missing prompt field 'prompt'"},
      {R"({"prompt": 3, "reward_model": {"ground_truth": "1"}, "level": 1})",
       "prompt field 'prompt' must be a string or a list of {role, content} messages"},
      {R"({"prompt": "", "reward_model": {"ground_truth": "1"}, "level": 1})",
       "prompt field 'prompt' is empty"},
      {R"({"prompt": [], "reward_model": {"ground_truth": "1"}, "level": 1})",
       "prompt field 'prompt' is an empty list"},
      {R"({"prompt": [{"role": "user"}], "reward_model": {"ground_truth": "1"}, "level": 1})",
       "prompt message 0 of 'prompt' must be an object with string 'role' and 'content'"},
      {R"({"prompt": "p", "level": 1})", "missing ground truth field 'reward_model.ground_truth'"},
      {R"({"prompt": "p", "reward_model": {"ground_truth": null}, "level": 1})",
       "missing ground truth field"},
      {R"({"prompt": "p", "reward_model": {"ground_truth": "1"}, "data_source": 7, "level": 1})",
       "field 'data_source' must be a string"},
      {R"({"prompt": "p", "reward_model": {"ground_truth": "1"}})", "missing level field 'level'"},
      {R"({"prompt": "p", "reward_model": {"ground_truth": "1"}, "level": "hard"})",
       "level field 'level' must be a non-negative integer (got \"hard\")"},
      {R"({"prompt": "p", "reward_model": {"ground_truth": "1"}, "level": -2})",
       "must be a non-negative integer (got -2)"},
  };
  const std::string good = R"({"prompt": "ok", "reward_model": {"ground_truth": "1"}, "level": 1})";
  for (const BadRow& c : cases) {
    std::string path = WriteTemp("bad.jsonl", good + "\n\n" + c.line + "\n" + good + "\n");
    auto data = PromptDataset::LoadJsonl(path, format);
    ASSERT_FALSE(data.ok()) << c.line;
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(data.status().message()), HasSubstr(path + ":3: "));
    EXPECT_THAT(std::string(data.status().message()), HasSubstr(c.message)) << c.line;
    EXPECT_THAT(std::string(data.status().message()), HasSubstr("data.on_bad_line: skip"));

    // Skipping: the bad line is counted and explained, the good lines are all kept.
    JsonlFormat skipping = format;
    skipping.on_bad_line = BadLinePolicy::kSkip;
    auto skipped = PromptDataset::LoadJsonl(path, skipping);
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    EXPECT_EQ(skipped->size(), 2u);
    EXPECT_EQ(skipped->skipped_lines(), 1);
    ASSERT_EQ(skipped->skip_reasons().size(), 1u);
    EXPECT_THAT(skipped->skip_reasons()[0], HasSubstr(c.message));
  }
}

TEST(DatasetTest, MissingOrEmptyFiles) {
  auto missing = PromptDataset::LoadJsonl("/nonexistent/x.jsonl", JsonlFormat());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("cannot open dataset file /nonexistent/x.jsonl"));

  std::string empty = WriteTemp("empty.jsonl", "\n  \n");
  auto none = PromptDataset::LoadJsonl(empty, JsonlFormat());
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("has no usable rows (0 skipped"));

  JsonlFormat skipping;
  skipping.on_bad_line = BadLinePolicy::kSkip;
  auto all_bad = PromptDataset::LoadJsonl(WriteTemp("allbad.jsonl", "x\ny\n"), skipping);
  ASSERT_FALSE(all_bad.ok());
  EXPECT_THAT(std::string(all_bad.status().message()), HasSubstr("(2 skipped as bad)"));
}

TEST(DatasetTest, SeveralFilesAreConcatenatedInOrder) {
  std::string a = WriteTemp("a.jsonl", R"({"prompt": "a", "reward_model": {"ground_truth": 1}})");
  std::string b = WriteTemp("b.jsonl", R"({"prompt": "b", "reward_model": {"ground_truth": 2}})");
  auto data = PromptDataset::LoadJsonlFiles({a, b}, JsonlFormat());
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 2u);
  EXPECT_EQ((*data)[1].text, "b");
  EXPECT_EQ((*data)[1].ground_truth, 2);
  EXPECT_THAT((*data)[1].origin, HasSubstr("b.jsonl:1"));
}

TEST(DataOptionsTest, LoadPromptDataNeedsExactlyOneSource) {
  DataOptions none;
  auto r = LoadPromptData(none);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no prompts configured"));

  DataOptions both;
  both.train_files = {"x.jsonl"};
  both.task.name = "arithmetic";
  r = LoadPromptData(both);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("give either train_files or task.name, not both"));

  DataOptions files;
  files.train_files = {testing::SourcePath("tests/data/trainer/gsm8k_verl.jsonl")};
  files.val_files = files.train_files;
  r = LoadPromptData(files);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->train.size(), 4u);
  EXPECT_EQ(r->val.size(), 4u);
}

}  // namespace
}  // namespace ponder::trainer
