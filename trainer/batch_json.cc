#include "trainer/batch_json.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {
namespace {

using nlohmann::json;

rollout::FinishReason ReasonFromName(const std::string& name) {
  for (rollout::FinishReason r : {rollout::FinishReason::kStop, rollout::FinishReason::kLength,
                                  rollout::FinishReason::kRepeat, rollout::FinishReason::kAborted,
                                  rollout::FinishReason::kPaused}) {
    if (name == rollout::FinishReasonName(r)) return r;
  }
  throw std::invalid_argument("unknown finish_reason '" + name + "'");
}

json TrajectoryJson(const rollout::Trajectory& t) {
  json segments = json::array();
  for (const rollout::Segment& s : t.segments)
    segments.push_back({s.weight_version, s.begin, s.end});
  return {{"prompt_index", t.prompt_index},
          {"sample_index", t.sample_index},
          {"token_ids", t.token_ids},
          {"logprobs", t.logprobs},
          {"finish_reason", rollout::FinishReasonName(t.finish_reason)},
          {"weight_version", t.weight_version},
          {"segments", segments},
          {"prompt_tokens", t.prompt_tokens}};
}

rollout::Trajectory TrajectoryFrom(const json& j) {
  rollout::Trajectory t;
  t.prompt_index = j.at("prompt_index").get<uint64_t>();
  t.sample_index = j.at("sample_index").get<uint32_t>();
  t.token_ids = j.at("token_ids").get<std::vector<int32_t>>();
  t.logprobs = j.at("logprobs").get<std::vector<float>>();
  t.finish_reason = ReasonFromName(j.at("finish_reason").get<std::string>());
  t.weight_version = j.at("weight_version").get<int64_t>();
  for (const json& s : j.at("segments")) {
    t.segments.push_back(
        {s.at(0).get<int64_t>(), s.at(1).get<uint32_t>(), s.at(2).get<uint32_t>()});
  }
  t.prompt_tokens = j.at("prompt_tokens").get<uint32_t>();
  return t;
}

json GroupJson(const Group& g) {
  json samples = json::array();
  for (const ScoredSample& s : g.samples) {
    samples.push_back({{"trajectory", TrajectoryJson(s.trajectory)},
                       {"response", s.response},
                       {"score", s.result.score},
                       {"correct", s.result.correct ? json(*s.result.correct) : json(nullptr)},
                       {"details", s.result.details},
                       {"components", s.result.components}});
  }
  return {{"uid", g.uid},       {"index", g.index}, {"prompt_ids", g.prompt_ids},
          {"prompt", g.prompt}, {"kept", g.kept},   {"samples", samples}};
}

Group GroupFrom(const json& j) {
  Group g;
  g.uid = j.at("uid").get<uint64_t>();
  g.index = j.at("index").get<int64_t>();
  g.prompt_ids = j.at("prompt_ids").get<std::vector<int32_t>>();
  g.prompt = j.at("prompt").get<std::string>();
  g.kept = j.at("kept").get<bool>();
  for (const json& s : j.at("samples")) {
    ScoredSample sample;
    sample.trajectory = TrajectoryFrom(s.at("trajectory"));
    sample.response = s.at("response").get<std::string>();
    sample.result.score = s.at("score").get<double>();
    if (!s.at("correct").is_null()) sample.result.correct = s.at("correct").get<bool>();
    sample.result.details = s.at("details");
    sample.result.components = s.at("components").get<std::map<std::string, double>>();
    g.samples.push_back(std::move(sample));
  }
  return g;
}

}  // namespace

json BatchesToJson(const std::vector<BatchResult>& batches) {
  json out = json::array();
  for (const BatchResult& b : batches) {
    json groups = json::array();
    for (const Group& g : b.groups) groups.push_back(GroupJson(g));
    out.push_back(
        {{"step", b.step}, {"version", b.version}, {"counts", b.counts}, {"groups", groups}});
  }
  return out;
}

absl::StatusOr<std::vector<BatchResult>> BatchesFromJson(const json& j) {
  std::vector<BatchResult> out;
  try {
    for (const json& b : j) {
      BatchResult batch;
      batch.step = b.at("step").get<int64_t>();
      batch.version = b.at("version").get<int64_t>();
      batch.counts = b.at("counts").get<monitor::Metrics>();
      for (const json& g : b.at("groups")) batch.groups.push_back(GroupFrom(g));
      out.push_back(std::move(batch));
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("batches in flight: ", e.what()));
  }
  return out;
}

}  // namespace ponder::trainer
