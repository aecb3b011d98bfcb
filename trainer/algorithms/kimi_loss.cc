#include "trainer/algorithms/kimi_loss.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

absl::StatusOr<std::unique_ptr<KimiLoss>> KimiLoss::Create(const AlgorithmOptions& options) {
  if (options.NeedsCritic()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy_loss kimi uses one advantage per sample (r - mean r); it cannot use adv_estimator ",
        options.adv_estimator, " (choose kimi, grpo, rloo or reinforce_pp_baseline)"));
  }
  return std::make_unique<KimiLoss>(options.kimi_tau);
}

PolicyLossValue KimiLoss::Compute(const PolicyLossInput& in, const LossScale& scale) const {
  at::Tensor m = in.mask.to(in.log_probs.scalar_type());
  at::Tensor count = m.sum(1);
  at::Tensor has_tokens = (count > 0).to(m.scalar_type());
  at::Tensor seq_logp = (in.log_probs * m).sum(1);
  at::Tensor seq_old = (in.old_log_probs * m).sum(1);
  at::Tensor seq_adv = (in.advantages * m).sum(1) / count.clamp_min(1.0);
  at::Tensor diff = seq_logp - seq_old;
  // The policy-gradient term takes the per-token weights; the pull towards `old` does not.
  at::Tensor pg_logp =
      in.weights.defined() ? (in.log_probs * m * in.weights.to(m.scalar_type())).sum(1) : seq_logp;
  at::Tensor per_seq = (-seq_adv * pg_logp + 0.5 * tau_ * diff * diff) * has_tokens;
  PolicyLossValue out;
  out.loss = per_seq.sum() / (scale.sequences > 0 ? scale.sequences : 1.0);
  out.approx_kl = MaskedTokenMean(in.old_log_probs - in.log_probs, in.mask, scale);
  return out;
}

}  // namespace ponder::trainer
