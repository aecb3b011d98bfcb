// The models of an RL run: the policy, the frozen reference (when a KL term needs one) and
// the critic (when the advantage estimator needs one), as decoders and as the learner sees
// them (decoder_policy.h).
//
// The policy and critic start from model.path / model.init, or continue from a checkpoint's
// policy/ and critic/ folders; the reference is always the starting model. The critic starts
// from the policy's weights with a fresh value head (as in verl).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "trainer/decoder_policy.h"
#include "trainer/job_config.h"

namespace ponder::trainer {

struct TrainingModels {
  model::Decoder policy{nullptr};
  model::Decoder reference{nullptr};  // null without a KL term
  model::Decoder critic{nullptr};     // null without a critic
  std::unique_ptr<DecoderPolicy> actor;
  std::unique_ptr<DecoderPolicy> reference_policy;
  std::unique_ptr<DecoderCritic> critic_model;
};

// `checkpoint`: a checkpoint directory to continue from, or empty.
absl::StatusOr<TrainingModels> LoadTrainingModels(const JobConfig& job, int64_t vocab_size,
                                                  const std::string& checkpoint);

}  // namespace ponder::trainer
