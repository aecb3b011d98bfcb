// The verifier interface (DESIGN.md §4): one sample in, a score out.
//
// A verifier is built once from its typed options and then called from many threads at the
// same time, so `Score` must be thread-safe (const, no unguarded mutable state). Bad input
// (a malformed ground truth, say) is an error Status naming what is wrong; a wrong answer is
// not an error, it is a result with a low score.
//
// To add a verifier in C++, write one file and add one line to reward/verifier_list.cc; see
// docs/writing-a-verifier.md.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace ponder::reward {

struct VerifyInput {
  std::string prompt;
  std::string response;  // the model's output text
  // The gold answer (a string for math) or a structured object (code tests, a schema ...).
  nlohmann::json ground_truth;
  nlohmann::json metadata = nlohmann::json::object();  // per-sample extras from the dataset
  std::string data_source;                             // picks the reward when configured
  // When the caller stops waiting for this item. Verifiers that can stop early (a sandbox, a
  // remote call, a random-point search) should honour it; others may ignore it.
  absl::Time deadline = absl::InfiniteFuture();
};

struct VerifyResult {
  double score = 0.0;           // in [0, 1] for most verifiers; penalties may be negative
  std::optional<bool> correct;  // set where the verifier has a notion of correctness
  // Shown in the sample viewer: extracted answer, failing test, stderr excerpt ...
  nlohmann::json details = nlohmann::json::object();
  // Per-verifier scores when this result is a composite (weighted sum) of several.
  std::map<std::string, double> components;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // Thread-safe.
  virtual absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const = 0;
};

}  // namespace ponder::reward
