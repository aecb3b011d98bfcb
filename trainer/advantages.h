// Advantage estimators on plain tensors (docs/design/algorithms.md; the formulas below are what
// the estimators in trainer/algorithms/ compute and what
// tests/trainer/reference/rl_reference.py recomputes).
//
// Shapes: B samples, T response positions (right-padded); `mask` [B, T] is 1 on a sample's
// response tokens. Scores are sequence rewards [B]. All math is in the dtype of `scores`.
//
//   token rewards   r_t = token_rewards_t (e.g. -beta * KL_t), plus the score at the sample's
//                   last response token.
//   gae             delta_t = r_t + gamma V_{t+1} - V_t (V after the last token is 0);
//                   A_t = delta_t + gamma lam A_{t+1}, computed backwards over the response
//                   tokens (masked positions are skipped). Advantages use the policy's lam
//                   (or, with lam_length_alpha = a > 0, lam_i = 1 - 1/(a * len_i), VAPO);
//                   critic targets ("returns") are A(lam_critic) + V (decoupled GAE). With
//                   whiten_advantages, advantages are whitened over all response tokens:
//                   (A - mean) / sqrt(var + 1e-8), var unbiased.
//   grpo            A_i = (s_i - mean_g) / (std_g + 1e-6) (std unbiased), or s_i - mean_g
//                   without the std (Dr. GRPO); a group of one sample gets 0.
//   kimi            A_i = s_i - mean_g (Kimi k1.5's mean-reward baseline).
//   rloo            A_i = s_i - mean of the other samples of the group (needs >= 2 samples).
//   reinforce_pp    G_t = r_t + gamma G_{t+1} over the token rewards; advantages = whitened G
//                   over the batch's response tokens.
//   reinforce_pp_baseline  the same with s_i - mean_g in place of s_i.
// Sequence-level advantages (grpo, kimi, rloo) use s_i plus the sum of the sample's token
// rewards, and are broadcast over its response tokens; for them the returns equal the
// advantages.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace ponder::trainer {

struct AdvantageInput {
  at::Tensor scores;               // [B] sequence rewards
  at::Tensor mask;                 // [B, T] response tokens
  at::Tensor token_rewards;        // [B, T] optional extra per-token rewards (undefined: none)
  at::Tensor values;               // [B, T] critic values V(s_t) (gae only)
  std::vector<int64_t> group_ids;  // [B] samples of one prompt share an id
};

enum class GroupBaseline { kMeanStd, kMean, kLeaveOneOut };

struct Advantages {
  at::Tensor advantages;  // [B, T], 0 outside the mask
  at::Tensor returns;     // [B, T] critic targets (gae) / returns
};

// The estimators themselves are plug-ins (advantage_estimator.h, trainer/algorithms/); these
// are the pieces they share.

// InvalidArgument unless `input` holds scores [B], a mask [B, T] and, when given, token
// rewards of the mask's shape.
absl::Status CheckAdvantageInput(const AdvantageInput& input);

// Sequence-level advantages of a group `baseline` (grpo, kimi, rloo): the score plus the sum
// of the sample's token rewards, against its group, broadcast over its response tokens; the
// returns equal the advantages.
absl::StatusOr<Advantages> SequenceGroupAdvantages(const AdvantageInput& input,
                                                   GroupBaseline baseline);

// ---- Building blocks (tested one by one) ----

// Token rewards: `token_rewards` (or zeros) plus each sample's score at its last mask position.
at::Tensor PlaceScores(const at::Tensor& scores, const at::Tensor& mask,
                       const at::Tensor& token_rewards);

// GAE over `rewards` and `values` with a per-sample lambda `lam` [B]; returns the advantages
// (not whitened) [B, T].
at::Tensor Gae(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask,
               double gamma, const at::Tensor& lam);

// Discounted returns G_t = r_t + gamma G_{t+1} over the mask positions.
at::Tensor DiscountedReturns(const at::Tensor& rewards, const at::Tensor& mask, double gamma);

// (x - mean) / sqrt(var + 1e-8) over the mask positions (unbiased var; var 0 for < 2
// positions); 0 outside the mask.
at::Tensor MaskedWhiten(const at::Tensor& x, const at::Tensor& mask);

// Sequence advantages [B] from scores [B] and group ids (see the header comment).
absl::StatusOr<at::Tensor> GroupAdvantages(const at::Tensor& scores,
                                           const std::vector<int64_t>& group_ids,
                                           GroupBaseline baseline);

}  // namespace ponder::trainer
