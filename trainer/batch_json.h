// Scored batches in JSON: how an asynchronous run's checkpoint keeps the batches in flight
// (RUN_DIR/checkpoints/step_N/in_flight.json), exactly (token ids, behaviour log-probs,
// version segments, scores, verifier details), so that the resumed run trains on the same
// samples as an uninterrupted one.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/async_rollout.h"

namespace ponder::trainer {

nlohmann::json BatchesToJson(const std::vector<BatchResult>& batches);
// DataLoss naming what is missing or mistyped.
absl::StatusOr<std::vector<BatchResult>> BatchesFromJson(const nlohmann::json& json);

}  // namespace ponder::trainer
