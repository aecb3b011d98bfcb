// The sample browser's queries: filters, search, sorting, paging, group statistics.
#include "monitor/sample_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder::monitor {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int> Indices(const json& answer) {
  std::vector<int> out;
  for (const json& s : answer["samples"]) out.push_back(s["index"].get<int>());
  return out;
}

std::vector<json> Step() {
  return {
      {{"prompt_uid", 1},
       {"prompt", "a"},
       {"response", "x"},
       {"score", 0.0},
       {"correct", false},
       {"advantage", -1.0},
       {"finish_reason", "length"},
       {"response_tokens", 9}},
      {{"prompt_uid", 1},
       {"prompt", "a"},
       {"response", "The Answer"},
       {"score", 1.0},
       {"correct", true},
       {"advantage", 1.0},
       {"finish_reason", "stop"},
       {"response_tokens", 3}},
      {{"prompt_uid", 2},
       {"prompt", "b"},
       {"response", "y"},
       {"score", 0.5},
       {"advantage", 0.0},
       {"finish_reason", "stop"},
       {"response_tokens", 5}},
      {{"prompt_uid", 2},
       {"prompt", "b"},
       {"response", "z"},
       {"score", 0.5},
       {"advantage", 0.0},
       {"finish_reason", "stop"},
       {"response_tokens", 1}},
      {{"prompt", "c"},
       {"response", "w"},
       {"error", "verifier timed out"},
       {"finish_reason", "stop"},
       {"response_tokens", 2}},
  };
}

json Query(const std::map<std::string, std::string>& params) {
  auto q = SampleQuery::FromParams(params);
  EXPECT_TRUE(q.ok()) << q.status();
  return RunSampleQuery(Step(), *q);
}

TEST(SampleQueryTest, GroupStatistics) {
  json all = Query({});
  EXPECT_EQ(all["total"], 5);
  EXPECT_EQ(all["matched"], 5);
  EXPECT_THAT(Indices(all), ElementsAre(0, 1, 2, 3, 4));
  const json& g1 = all["groups"]["1"];
  EXPECT_EQ(g1["size"], 2);
  EXPECT_EQ(g1["mean"], 0.5);
  EXPECT_EQ(g1["std"], 0.5);
  EXPECT_EQ(g1["zero_variance"], false);
  EXPECT_EQ(all["groups"]["2"]["zero_variance"], true);
  // A sample without a prompt_uid is grouped by its prompt text; without a score, no mean.
  EXPECT_TRUE(all["groups"]["c"]["mean"].is_null());
  EXPECT_EQ(all["groups"]["c"]["size"], 1);
}

TEST(SampleQueryTest, FiltersSearchSortAndPaging) {
  EXPECT_THAT(Indices(Query({{"filter", "truncated"}})), ElementsAre(0));
  EXPECT_THAT(Indices(Query({{"filter", "error"}})), ElementsAre(4));
  EXPECT_THAT(Indices(Query({{"filter", "correct"}})), ElementsAre(1));
  EXPECT_THAT(Indices(Query({{"filter", "incorrect"}})), ElementsAre(0));
  EXPECT_THAT(Indices(Query({{"filter", "zero_variance"}})), ElementsAre(2, 3));
  EXPECT_THAT(Indices(Query({{"filter", "nonzero_variance,incorrect"}})), ElementsAre(0));
  EXPECT_THAT(Indices(Query({{"q", "answer"}})), ElementsAre(1));
  EXPECT_THAT(Indices(Query({{"q", "B"}})), ElementsAre(2, 3));  // in the prompt
  EXPECT_THAT(Indices(Query({{"group", "2"}})), ElementsAre(2, 3));
  // Sorting is stable; samples without the value come last in either order.
  EXPECT_THAT(Indices(Query({{"sort", "score"}})), ElementsAre(1, 2, 3, 0, 4));
  EXPECT_THAT(Indices(Query({{"sort", "score"}, {"order", "asc"}})), ElementsAre(0, 2, 3, 1, 4));
  EXPECT_THAT(Indices(Query({{"sort", "length"}, {"order", "asc"}})), ElementsAre(3, 4, 1, 2, 0));
  EXPECT_THAT(Indices(Query({{"sort", "advantage"}})), ElementsAre(1, 2, 3, 0, 4));
  json page = Query({{"sort", "length"}, {"offset", "1"}, {"limit", "2"}});
  EXPECT_EQ(page["matched"], 5);
  EXPECT_THAT(Indices(page), ElementsAre(2, 1));
}

TEST(SampleQueryTest, BadParametersNameTheValidOnes) {
  auto q = SampleQuery::FromParams({{"order", "up"}});
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().message(), HasSubstr("order must be asc or desc (got 'up')"));
  q = SampleQuery::FromParams({{"filter", "correct,,slow"}});
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().message(),
              HasSubstr("filter must be a comma-separated list of truncated, error, correct, "
                        "incorrect, zero_variance, nonzero_variance (got 'slow')"));
  q = SampleQuery::FromParams({{"offset", "-1"}});
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().message(), HasSubstr("offset must be a whole number (got '-1')"));
}

TEST(SampleQueryTest, ExtractedAnswerOfPlainAndCompositeRewards) {
  EXPECT_EQ(ExtractedAnswer({{"details", {{"extracted", "42"}}}}), "42");
  EXPECT_EQ(ExtractedAnswer({{"details", {{"extracted", nullptr}}}}), "");
  EXPECT_EQ(
      ExtractedAnswer({{"details", {{"format", {{"ok", true}}}, {"math", {{"extracted", "7"}}}}}}),
      "7");
  EXPECT_EQ(ExtractedAnswer({{"response", "x"}}), "");
}

}  // namespace
}  // namespace ponder::monitor
