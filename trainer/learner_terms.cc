// Phases 1-4 of Learner::Step (learner.h): reference terms, score shaping, advantages and
// their statistics, the loss inputs.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/internal/learner_impl.h"

namespace ponder::trainer {

using internal::MaskedMean;

// ---- 1. Reference terms: pi_behaviour, pi_old, pi_ref and critic values (no grad) ---------

absl::Status Learner::Impl::ReferenceTerms(StepData& d, LearnerStep& out) const {
  const std::vector<Trajectory>& batch = *d.batch;
  const PackedBatch& b = d.b;
  bool all_behaviour = true;
  for (const Trajectory& t : batch) all_behaviour = all_behaviour && !t.behaviour_log_probs.empty();
  if (all_behaviour) {
    at::Tensor bl = at::zeros({b.size, b.mask.size(1)}, at::kDouble);
    auto acc = bl.accessor<double, 2>();
    for (int64_t i = 0; i < b.size; ++i) {
      for (size_t r = 0; r < batch[i].behaviour_log_probs.size(); ++r) {
        acc[i][r] = batch[i].behaviour_log_probs[r];
      }
    }
    d.behaviour = bl.to(device, dtype);
  }
  auto log_probs_of = [&](TrainablePolicy* model, const char* what) {
    return Fill(b, what, [&](const std::vector<int64_t>& rows) -> absl::StatusOr<at::Tensor> {
      PONDER_ASSIGN_OR_RETURN(RowScores s, ScoreRows(*model, b, rows, false));
      return s.log_probs;
    });
  };
  if (opts.recompute_logprobs) {
    PONDER_ASSIGN_OR_RETURN(d.old_logp, log_probs_of(policy, "old log-probs"));
    if (all_behaviour) {
      out.metrics["rollout/logp_mismatch/mean"] =
          MaskedMean((d.old_logp - d.behaviour).abs(), b.mask);
    }
  } else {
    d.old_logp = d.behaviour;
  }
  if (algo.NeedsReference()) {
    PONDER_ASSIGN_OR_RETURN(d.ref_logp, log_probs_of(reference, "reference log-probs"));
    out.metrics["kl_ref/mean"] =
        MaskedMean(KlPenalty(d.old_logp, d.ref_logp, KlEstimator::kK1), b.mask);
  }
  if (critic != nullptr) {
    PONDER_ASSIGN_OR_RETURN(d.old_values, Fill(b, "values", [&](const std::vector<int64_t>& rows) {
                              return ValueRows(*critic, b, rows);
                            }));
  }
  return absl::OkStatus();
}

// ---- 2. Score shaping: the group hook (Kimi length penalty, DAPO overlong) -----------------

absl::Status Learner::Impl::ShapeScores(StepData& d, int64_t step, LearnerStep& out) const {
  const std::vector<Trajectory>& batch = *d.batch;
  const int64_t B = d.b.size;
  d.scores.resize(B);
  d.correct.resize(B);
  d.group_ids.resize(B);
  for (int64_t i = 0; i < B; ++i) {
    d.scores[i] = batch[i].score;
    d.correct[i] = batch[i].correct.value_or(batch[i].score > 0);
    d.group_ids[i] = batch[i].group;
  }
  if (lopts.group_shaping) {
    std::map<int64_t, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < B; ++i) groups[d.group_ids[i]].push_back(i);
    for (const auto& [group, rows] : groups) {
      std::vector<int64_t> lengths;
      std::vector<bool> ok;
      std::vector<double> s;
      for (int64_t i : rows) {
        lengths.push_back(d.b.response_lengths[i]);
        ok.push_back(d.correct[i]);
        s.push_back(d.scores[i]);
      }
      absl::Status st = lopts.group_shaping(step, lengths, ok, s);
      if (!st.ok()) return Annotate(st, absl::StrCat("group reward shaping of group ", group));
      for (size_t k = 0; k < rows.size(); ++k) d.scores[rows[k]] = s[k];
    }
  }
  out.scores = d.scores;
  return absl::OkStatus();
}

// ---- 3. Advantages (with KL in the reward) and their statistics -----------------------------

absl::Status Learner::Impl::EstimateAdvantages(StepData& d, LearnerStep& out) const {
  const at::Tensor& mask = d.b.mask;
  AdvantageInput in;
  in.scores = at::tensor(d.scores, at::kDouble).to(device, dtype);
  in.mask = mask;
  in.group_ids = d.group_ids;
  in.values = d.old_values;
  if (algo.use_kl_in_reward && algo.kl_coef > 0) {
    in.token_rewards = -algo.kl_coef * KlPenalty(d.old_logp, d.ref_logp, algo.kl_penalty) * mask;
  }
  PONDER_ASSIGN_OR_RETURN(d.adv, ComputeAdvantages(*estimator, in));
  if (dp != nullptr) {  // every rank uses rank 0's, bit for bit
    std::vector<at::Tensor> computed = {d.adv.advantages};
    if (d.adv.returns.defined()) computed.push_back(d.adv.returns);
    PONDER_RETURN_IF_ERROR(dp->FromRankZero(computed, "advantages"));
  }
  const at::Tensor& a = d.adv.advantages;
  const double n = mask.sum().item<double>();
  const double mean = (a * mask).sum().item<double>() / n;
  const double var = ((a - mean).pow(2) * mask).sum().item<double>() / std::max(1.0, n);
  out.metrics["adv/mean"] = mean;
  out.metrics["adv/std"] = std::sqrt(var);
  at::Tensor per_sample = ((a * mask).sum(1) / mask.sum(1).clamp_min(1.0)).to(at::kDouble).cpu();
  out.advantages.assign(per_sample.data_ptr<double>(), per_sample.data_ptr<double>() + d.b.size);
  if (critic != nullptr) {
    const at::Tensor& ret = d.adv.returns;
    const at::Tensor& v = d.old_values;
    const double ret_mean = (ret * mask).sum().item<double>() / n;
    const double ret_var = ((ret - ret_mean).pow(2) * mask).sum().item<double>() / n;
    const double res = ((ret - v) * mask).sum().item<double>() / n;
    const double res_var = ((ret - v - res).pow(2) * mask).sum().item<double>() / n;
    out.metrics["critic/explained_var"] = ret_var > 0 ? 1.0 - res_var / ret_var : 0.0;
    out.metrics["critic/values/mean"] = (v * mask).sum().item<double>() / n;
  }
  return absl::OkStatus();
}

// ---- 4. Loss inputs: truncation mask, rollout correction, positive samples ------------------

absl::Status Learner::Impl::LossInputs(StepData& d, LearnerStep& out) const {
  const int64_t B = d.b.size;
  d.loss_mask = d.b.mask;
  if (algo.mask_truncated) {
    std::vector<double> keep(B);
    for (int64_t i = 0; i < B; ++i) keep[i] = (*d.batch)[i].truncated ? 0.0 : 1.0;
    d.loss_mask = d.b.mask * at::tensor(keep, at::kDouble).to(device, dtype).unsqueeze(1);
  }
  if (correction != nullptr) {
    if (!d.behaviour.defined()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm.rollout_correction ", algo.rollout_correction.name,
          " needs the rollout's log-probs of every sample; some trajectories have none"));
    }
    RolloutCorrectionOutput c = correction->Apply({d.old_logp, d.behaviour, d.loss_mask});
    d.loss_mask = c.mask;
    d.weights = c.weights;
    for (const auto& [name, value] : c.metrics) out.metrics[name] = value;
  }
  std::vector<double> positive(B);
  for (int64_t i = 0; i < B; ++i) positive[i] = d.correct[i] ? 1.0 : 0.0;
  d.positive = at::tensor(positive, at::kDouble).to(device, dtype);
  return absl::OkStatus();
}

}  // namespace ponder::trainer
