// What rank 0 (the controller) sends the other trainer ranks before each learner step: the
// step's scored batch, or the end of the job. A compact binary form (token ids, behaviour
// log-probs and scores; kilobytes to a few megabytes a step), checked when decoded: bytes from
// a peer that do not parse are a DataLoss error saying where they stop making sense.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/trajectory.h"

namespace ponder::trainer {

struct StepMessage {
  // kStop: the job is done; kCancel: it was stopped early (a signal), with a checkpoint.
  enum class Kind : uint8_t { kBatch = 1, kStop = 2, kCancel = 3 };
  Kind kind = Kind::kBatch;
  int64_t step = 0;  // the 0-based training step of the batch (Learner::Step's `step`)
  std::vector<Trajectory> batch;
};

std::string EncodeStepMessage(const StepMessage& message);
absl::StatusOr<StepMessage> DecodeStepMessage(const std::string& bytes);

}  // namespace ponder::trainer
