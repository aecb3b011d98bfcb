// What the learner needs from a model, on plain tensors, so that the algorithms do not depend
// on the model's internals. model/ provides implementations over its decoder
// (trainer/decoder_policy.h); tests use small hand-written modules.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "absl/status/statusor.h"

namespace ponder::trainer {

struct TokenScores {
  at::Tensor
      log_probs;       // [B, L]: log p(targets[b, j] | tokens[b, 0..j]); any value where target < 0
  at::Tensor entropy;  // [B, L]: entropy of that next-token distribution (when asked)
};

class TrainablePolicy {
 public:
  virtual ~TrainablePolicy() = default;
  // `tokens` [B, L] int64: each row one sequence (prompt then response), right-padded;
  // `attention_mask` [B, L]: 1 for real tokens, 0 for padding; `targets` [B, L] int64: the
  // token whose log-prob is wanted at each position (the next token), -1 where none is.
  // Differentiable with respect to Parameters() unless called under a no-grad guard.
  virtual absl::StatusOr<TokenScores> Score(const at::Tensor& tokens,
                                            const at::Tensor& attention_mask,
                                            const at::Tensor& targets, bool with_entropy) = 0;
  virtual std::vector<at::Tensor> Parameters() = 0;
};

class ValueModel {
 public:
  virtual ~ValueModel() = default;
  // [B, L]: the value of the state after reading tokens[b, 0..j] (same layout as Score).
  virtual absl::StatusOr<at::Tensor> Values(const at::Tensor& tokens,
                                            const at::Tensor& attention_mask) = 0;
  virtual std::vector<at::Tensor> Parameters() = 0;
};

}  // namespace ponder::trainer
