#include "monitor/sample_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "monitor/metrics.h"
#include "tests/testing.h"

namespace ponder::monitor {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

SampleRecord TrainRecord() {
  SampleRecord r;
  r.step = 3;
  r.prompt_uid = 17;
  r.origin = "arithmetic#5";
  r.data_source = "arithmetic";
  r.sample_index = 2;
  r.prompt = "3+4=";
  r.response = "07";
  r.ground_truth = "07";
  r.score = 1;
  r.shaped_score = 0.5;
  r.correct = true;
  r.components = {{"exact_match", 1.0}};
  r.details = {{"extracted", "07"}};
  r.advantage = 0.25;
  r.finish_reason = "stop";
  r.response_tokens = 3;
  r.weight_version = 2;
  r.segments = {{1, 0, 1}, {2, 1, 3}};
  return r;
}

// The exact line the controller wrote before samples were typed.
TEST(SampleRecordTest, TrainingLineByHand) {
  EXPECT_EQ(ToJson(TrainRecord()).dump(),
            R"({"advantage":0.25,"components":{"exact_match":1.0},"correct":true,)"
            R"("data_source":"arithmetic","details":{"extracted":"07"},"finish_reason":"stop",)"
            R"("ground_truth":"07","origin":"arithmetic#5","prompt":"3+4=","prompt_uid":17,)"
            R"("response":"07","response_tokens":3,"sample_index":2,"score":1.0,)"
            R"("segments":[[1,0,1],[2,1,3]],"shaped_score":0.5,"step":3,"weight_version":2})");
  SampleRecord no_verdict = TrainRecord();
  no_verdict.correct.reset();
  EXPECT_EQ(ToJson(no_verdict)["correct"], json(nullptr));
}

TEST(SampleRecordTest, EvalLineByHand) {
  SampleRecord r;
  r.kind = SampleRecord::Kind::kEval;
  r.set = "arithmetic";
  r.prompt = "1+1=";
  r.response = "02";
  r.ground_truth = "02";
  r.greedy = true;
  r.finish_reason = "stop";
  r.response_tokens = 3;
  r.weight_version = 4;
  r.score = 1;
  r.correct = true;
  r.details = json::object();
  EXPECT_EQ(ToJson(r).dump(),
            R"({"correct":true,"details":{},"finish_reason":"stop","greedy":true,)"
            R"("ground_truth":"02","prompt":"1+1=","response":"02","response_tokens":3,)"
            R"("sample_index":0,"score":1.0,"set":"arithmetic","weight_version":4})");
  r.error = "verifier crashed";
  const json failed = ToJson(r);
  EXPECT_EQ(failed["error"], "verifier crashed");
  EXPECT_FALSE(failed.contains("score"));
  EXPECT_FALSE(failed.contains("correct"));
  EXPECT_FALSE(failed.contains("details"));
}

TEST(SampleRecordTest, RoundTrips) {
  for (bool verdict : {true, false}) {
    SampleRecord r = TrainRecord();
    if (!verdict) r.correct.reset();
    absl::StatusOr<SampleRecord> back = SampleRecordFromJson(ToJson(r));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(ToJson(*back), ToJson(r));
  }
  SampleRecord e;
  e.kind = SampleRecord::Kind::kEval;
  e.set = "gsm8k";
  e.error = "timeout";
  absl::StatusOr<SampleRecord> back = SampleRecordFromJson(ToJson(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, SampleRecord::Kind::kEval);
  EXPECT_EQ(ToJson(*back), ToJson(e));
}

TEST(SampleRecordTest, BadLinesNameTheField) {
  json line = ToJson(TrainRecord());
  line.erase("advantage");
  EXPECT_THAT(std::string(SampleRecordFromJson(line).status().message()),
              HasSubstr("no 'advantage'"));
  line = ToJson(TrainRecord());
  line["response_tokens"] = "three";
  EXPECT_THAT(std::string(SampleRecordFromJson(line).status().message()),
              HasSubstr("'response_tokens' has the wrong type"));
  line = ToJson(TrainRecord());
  line["segments"] = json::array({json::array({1, 2})});
  EXPECT_THAT(std::string(SampleRecordFromJson(line).status().message()), HasSubstr("'segments'"));
  line = ToJson(TrainRecord());
  line["correct"] = 1;
  EXPECT_THAT(std::string(SampleRecordFromJson(line).status().message()), HasSubstr("'correct'"));
  EXPECT_FALSE(SampleRecordFromJson(json::array()).ok());
}

TEST(SampleRecordTest, RunDirSinkWritesOneLinePerSample) {
  const std::string dir = ::testing::TempDir() + "monitor_sample_records";
  std::filesystem::remove_all(dir);
  auto sink = RunDirSink::Create(dir);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->WriteSamples(3, {TrainRecord(), TrainRecord()}).ok());
  const std::string line = ToJson(TrainRecord()).dump() + "\n";
  EXPECT_EQ(testing::ReadFile(dir + "/samples/step_3.jsonl"), line + line);
}

}  // namespace
}  // namespace ponder::monitor
