#include "monitor/sample_record.h"

#include "absl/strings/str_cat.h"

namespace ponder::monitor {

using nlohmann::json;

json ToJson(const SampleRecord& r) {
  if (r.kind == SampleRecord::Kind::kEval) {
    json out = {{"set", r.set},
                {"prompt", r.prompt},
                {"response", r.response},
                {"ground_truth", r.ground_truth},
                {"greedy", r.greedy},
                {"sample_index", r.sample_index},
                {"finish_reason", r.finish_reason},
                {"response_tokens", r.response_tokens},
                {"weight_version", r.weight_version}};
    if (r.error.empty()) {
      out["score"] = r.score;
      out["correct"] = r.correct.value_or(false);
      out["details"] = r.details;
    } else {
      out["error"] = r.error;
    }
    return out;
  }
  json segments = json::array();
  for (const SampleSegment& s : r.segments) segments.push_back({s.weight_version, s.begin, s.end});
  return {{"step", r.step},
          {"prompt_uid", r.prompt_uid},
          {"origin", r.origin},
          {"data_source", r.data_source},
          {"sample_index", r.sample_index},
          {"prompt", r.prompt},
          {"response", r.response},
          {"ground_truth", r.ground_truth},
          {"score", r.score},
          {"shaped_score", r.shaped_score},
          {"correct", r.correct.has_value() ? json(*r.correct) : json(nullptr)},
          {"components", r.components},
          {"details", r.details},
          {"advantage", r.advantage},
          {"finish_reason", r.finish_reason},
          {"response_tokens", r.response_tokens},
          {"weight_version", r.weight_version},
          {"segments", segments}};
}

namespace {

// Reads the fields of one line, remembering the first problem.
class FieldReader {
 public:
  explicit FieldReader(const json& j) : j_(j) {}

  template <typename T>
  void Get(const char* key, T& out) {
    if (!status_.ok()) return;
    auto it = j_.find(key);
    if (it == j_.end()) {
      status_ = absl::InvalidArgumentError(absl::StrCat("sample record has no '", key, "'"));
      return;
    }
    try {
      out = it->template get<T>();
    } catch (const json::exception& e) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("sample record field '", key, "' has the wrong type: ", e.what()));
    }
  }
  void GetJson(const char* key, json& out) {
    if (!status_.ok()) return;
    if (!j_.contains(key)) {
      status_ = absl::InvalidArgumentError(absl::StrCat("sample record has no '", key, "'"));
      return;
    }
    out = j_.at(key);
  }
  const absl::Status& status() const { return status_; }

 private:
  const json& j_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<SampleRecord> SampleRecordFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("a sample record is a JSON object");
  SampleRecord r;
  FieldReader f(j);
  f.Get("prompt", r.prompt);
  f.Get("response", r.response);
  f.GetJson("ground_truth", r.ground_truth);
  f.Get("sample_index", r.sample_index);
  f.Get("finish_reason", r.finish_reason);
  f.Get("response_tokens", r.response_tokens);
  f.Get("weight_version", r.weight_version);
  if (j.contains("set")) {
    r.kind = SampleRecord::Kind::kEval;
    f.Get("set", r.set);
    f.Get("greedy", r.greedy);
    if (j.contains("error")) {
      f.Get("error", r.error);
    } else {
      bool correct = false;
      f.Get("score", r.score);
      f.Get("correct", correct);
      f.GetJson("details", r.details);
      r.correct = correct;
    }
    if (!f.status().ok()) return f.status();
    return r;
  }
  f.Get("step", r.step);
  f.Get("prompt_uid", r.prompt_uid);
  f.Get("origin", r.origin);
  f.Get("data_source", r.data_source);
  f.Get("score", r.score);
  f.Get("shaped_score", r.shaped_score);
  f.Get("components", r.components);
  f.GetJson("details", r.details);
  f.Get("advantage", r.advantage);
  json correct, segments;
  f.GetJson("correct", correct);
  f.GetJson("segments", segments);
  if (!f.status().ok()) return f.status();
  if (correct.is_boolean()) {
    r.correct = correct.get<bool>();
  } else if (!correct.is_null()) {
    return absl::InvalidArgumentError("sample record field 'correct' is neither a bool nor null");
  }
  if (!segments.is_array()) {
    return absl::InvalidArgumentError("sample record field 'segments' is not an array");
  }
  for (const json& s : segments) {
    if (!s.is_array() || s.size() != 3 || !s[0].is_number_integer() || !s[1].is_number_integer() ||
        !s[2].is_number_integer()) {
      return absl::InvalidArgumentError(
          "sample record field 'segments' holds something other than [version, begin, end]");
    }
    r.segments.push_back({s[0].get<int64_t>(), s[1].get<int64_t>(), s[2].get<int64_t>()});
  }
  return r;
}

}  // namespace ponder::monitor
