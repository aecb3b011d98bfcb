// One generated response and what became of it: a line of the run directory's
// samples/step_<N>.jsonl (a training sample) or samples/eval_step_<N>.jsonl (an evaluation
// sample), typed. The controller and the evaluation fill these; sinks write them; readers
// (the dashboard, tests) parse them back.
//
// Training sample line (keys in this order, since JSON objects are written sorted):
//   {"advantage", "components": {verifier: score}, "correct": bool|null, "data_source",
//    "details": {...}, "finish_reason", "ground_truth", "origin", "prompt", "prompt_uid",
//    "response", "response_tokens", "sample_index", "score",
//    "segments": [[weight_version, begin, end], ...], "shaped_score", "step", "weight_version"}
// Evaluation sample line:
//   {"correct": bool, "details": {...}, "finish_reason", "greedy", "ground_truth", "prompt",
//    "response", "response_tokens", "sample_index", "score", "set", "weight_version"}
//   with "error" in place of "correct", "details" and "score" when the verifier failed.
//
// No LibTorch, nothing from trainer/: monitor/ sits below it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ponder::monitor {

// A run of generated tokens made by one weight version: tokens [begin, end).
struct SampleSegment {
  int64_t weight_version = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

struct SampleRecord {
  enum class Kind { kTrain, kEval };
  Kind kind = Kind::kTrain;

  // Both kinds.
  std::string prompt;  // the prompt's text as the model saw it
  std::string response;
  nlohmann::json ground_truth;
  int64_t sample_index = 0;   // among the samples of its prompt
  std::string finish_reason;  // rollout::FinishReasonName
  int64_t response_tokens = 0;
  int64_t weight_version = 0;  // the version that made the last token
  double score = 0;            // the reward (eval: absent when `error` is set)
  // Training: the verifier's verdict where it has one (null otherwise). Evaluation: whether
  // the sample counts as correct (trainer::IsCorrect).
  std::optional<bool> correct;
  nlohmann::json details;  // the verifier's own details

  // Training samples.
  int64_t step = 0;         // the step that trained on it (from 1)
  uint64_t prompt_uid = 0;  // the controller's prompt id (unique in the run)
  std::string origin;       // where the prompt came from ("file:line", "arithmetic#12")
  std::string data_source;
  double shaped_score = 0;                   // after group shaping (length penalty ...)
  std::map<std::string, double> components;  // verifier name -> its score
  double advantage = 0;                      // mean over the response tokens
  std::vector<SampleSegment> segments;

  // Evaluation samples.
  std::string set;      // the eval set's name
  bool greedy = false;  // the greedy answer (else one of the k samples)
  std::string error;    // the verifier's error; then score, correct and details are absent
};

// The JSON line written today for `record` (see above).
nlohmann::json ToJson(const SampleRecord& record);
// Back from a line (the kind is eval when it has "set"); InvalidArgument naming a missing or
// mistyped field.
absl::StatusOr<SampleRecord> SampleRecordFromJson(const nlohmann::json& json);

}  // namespace ponder::monitor
