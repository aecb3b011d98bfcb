// Phase 5 of Learner::Step (learner.h): trainer.ppo_epochs passes over mini-batches, each one
// optimizer step for the policy and one for the critic; the policy's loss terms are composed
// in one place, PolicyLossTerms.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/internal/learner_impl.h"

namespace ponder::trainer {

using internal::Clock;
using internal::LossTerms;
using internal::Since;

// ---- 5. Updates: epochs over mini-batches, each one optimizer step per model -----------------

absl::Status Learner::Impl::Update(const StepData& d, int64_t step, LearnerStep& out,
                                   UpdateCounters& counters) {
  if (algo.reset_optimizer_per_step) policy_opt->Reset();
  out.metrics["actor/lr"] = policy_opt->ScheduleFor(step);
  const bool update_actor = critic == nullptr || step >= opts.critic_warmup;
  if (critic_opt) out.metrics["critic/lr"] = critic_opt->ScheduleFor(step);
  MetricMeans means;
  for (int64_t epoch = 0; epoch < opts.ppo_epochs; ++epoch) {
    auto minis =
        SplitMiniBatches(d.group_ids, opts.ppo_mini_batch_size, opts.shuffle ? &rng : nullptr);
    for (const std::vector<int64_t>& mini : minis) {
      const at::Tensor mini_idx = RowIndex(mini, device);
      const LossScale scale = LossScale::Of(d.loss_mask.index_select(0, mini_idx), NormConstant(),
                                            d.positive.index_select(0, mini_idx));
      if (scale.tokens == 0) {  // every sample masked (truncated with mask_truncated ...)
        means.Add("actor/empty_mini_batches", 1.0);
        continue;
      }
      const auto micros =
          PackMicroBatches(Mine(mini, d.b), d.b.lengths, opts.max_tokens_per_micro_batch);
      if (update_actor) PONDER_RETURN_IF_ERROR(UpdatePolicy(d, micros, scale, means, counters));
      if (critic != nullptr) PONDER_RETURN_IF_ERROR(UpdateCritic(d, micros, scale, means));
    }
  }
  means.Into(out.metrics);
  out.metrics["actor/skipped_steps"] = static_cast<double>(policy_opt->skipped());
  if (critic != nullptr) {
    out.metrics["critic/skipped_steps"] = static_cast<double>(critic_opt->skipped());
  }
  return absl::OkStatus();
}

// The policy's loss on one micro-batch: the policy loss, KL to the reference, the entropy
// bonus and the positive-example NLL, each with its coefficient; and their metrics.
absl::StatusOr<LossTerms> Learner::Impl::PolicyLossTerms(const StepData& d,
                                                         const std::vector<int64_t>& rows,
                                                         const RowScores& scored,
                                                         const LossScale& scale) const {
  const int64_t T = ResponseWidth(d.b, rows);
  const at::Tensor idx = RowIndex(rows, device);
  PolicyLossInput in;
  in.log_probs = scored.log_probs;
  in.old_log_probs = Rows(d.old_logp, idx, T);
  in.advantages = Rows(d.adv.advantages, idx, T);
  in.mask = Rows(d.loss_mask, idx, T);
  if (d.weights.defined()) in.weights = Rows(d.weights, idx, T);
  const PolicyLossValue pl = loss->Compute(in, scale);
  LossTerms t;
  t.total = pl.loss;
  t.sums["actor/pg_loss"] += pl.loss.item<double>();
  t.sums["actor/clipfrac"] += pl.clipfrac;
  t.sums["actor/ppo_kl"] += pl.approx_kl;
  if (pl.clipfrac_lower.has_value()) t.sums["actor/clipfrac_lower"] += *pl.clipfrac_lower;
  if (algo.use_kl_loss && algo.kl_loss_coef > 0) {
    at::Tensor kl =
        AggregateLoss(KlPenalty(in.log_probs, Rows(d.ref_logp, idx, T), algo.kl_loss_type), in.mask,
                      algo.loss_agg_mode, scale);
    t.total = t.total + algo.kl_loss_coef * kl;
    t.sums["actor/kl_loss"] += kl.item<double>();
  }
  if (scored.entropy.defined()) {
    t.sums["actor/entropy"] +=
        (scored.entropy.detach() * in.mask).sum().item<double>() / std::max(1.0, scale.tokens);
    if (algo.entropy_coeff != 0) {
      t.total = t.total - algo.entropy_coeff *
                              AggregateLoss(scored.entropy, in.mask, algo.loss_agg_mode, scale);
    }
  }
  if (algo.positive_nll_coef > 0 && scale.positive_tokens > 0) {
    at::Tensor nll = PositiveNll(in.log_probs, in.mask, d.positive.index_select(0, idx), scale);
    t.total = t.total + algo.positive_nll_coef * nll;
    t.sums["actor/nll_loss"] += nll.item<double>();
  }
  return t;
}

absl::Status Learner::Impl::UpdatePolicy(const StepData& d,
                                         const std::vector<std::vector<int64_t>>& micros,
                                         const LossScale& scale, MetricMeans& means,
                                         UpdateCounters& counters) {
  policy_opt->ClearGrads();
  bool finite = true;
  std::map<std::string, double> sums;
  for (const std::vector<int64_t>& rows : micros) {
    for (int64_t r : rows) counters.train_tokens += d.b.lengths[r];
    const auto forward = Clock::now();
    // Entropy on every forward: a loss term with entropy_coeff, and the actor/entropy metric
    // (the early warning of collapse) otherwise.
    PONDER_ASSIGN_OR_RETURN(RowScores scored, ScoreRows(*policy, d.b, rows, /*entropy=*/true));
    if (!d.detail_rows.empty()) internal::KeepDetailEntropy(d, rows, scored.entropy);
    PONDER_ASSIGN_OR_RETURN(LossTerms terms, PolicyLossTerms(d, rows, scored, scale));
    for (const auto& [name, value] : terms.sums) sums[name] += value;
    const double value = terms.total.item<double>();
    counters.forward_s += Since(forward);
    if (!std::isfinite(value)) {
      finite = false;
      break;
    }
    const auto backward = Clock::now();
    // The last backward's gradients are summed over ranks as they appear.
    if (policy_reducer && &rows == &micros.back()) policy_reducer->Arm();
    terms.total.backward();
    counters.backward_s += Since(backward);
  }
  if (dp != nullptr) {
    PONDER_RETURN_IF_ERROR(policy_reducer->Finish());
    PONDER_RETURN_IF_ERROR(dp->SumUpdate(sums, finite, "policy update metrics"));
  }
  const auto optimizer = Clock::now();
  const double norm = policy_opt->Step(finite);
  counters.optimizer_s += Since(optimizer);
  if (finite && std::isfinite(norm)) {
    for (const auto& [name, v] : sums) means.Add(name, v);
    means.Add("actor/grad_norm", norm);
  }
  return absl::OkStatus();
}

absl::Status Learner::Impl::UpdateCritic(const StepData& d,
                                         const std::vector<std::vector<int64_t>>& micros,
                                         const LossScale& scale, MetricMeans& means) {
  critic_opt->ClearGrads();
  bool finite = true;
  double vf_loss = 0, vf_clipfrac = 0;
  for (const std::vector<int64_t>& rows : micros) {
    const int64_t T = ResponseWidth(d.b, rows);
    const at::Tensor idx = RowIndex(rows, device);
    PONDER_ASSIGN_OR_RETURN(at::Tensor values, ValueRows(*critic, d.b, rows));
    ValueLoss vl = ClippedValueLoss(values, Rows(d.old_values, idx, T), Rows(d.adv.returns, idx, T),
                                    Rows(d.loss_mask, idx, T), algo.cliprange_value,
                                    algo.loss_agg_mode, scale);
    const double value = vl.loss.item<double>();
    if (!std::isfinite(value)) {
      finite = false;
      break;
    }
    vf_loss += value;
    vf_clipfrac += vl.clipfrac;
    if (critic_reducer && &rows == &micros.back()) critic_reducer->Arm();
    vl.loss.backward();
  }
  if (dp != nullptr) {
    PONDER_RETURN_IF_ERROR(critic_reducer->Finish());
    std::map<std::string, double> sums = {{"critic/vf_loss", vf_loss},
                                          {"critic/vf_clipfrac", vf_clipfrac}};
    PONDER_RETURN_IF_ERROR(dp->SumUpdate(sums, finite, "critic update metrics"));
    vf_loss = sums["critic/vf_loss"];
    vf_clipfrac = sums["critic/vf_clipfrac"];
  }
  const double norm = critic_opt->Step(finite);
  if (finite && std::isfinite(norm)) {
    means.Add("critic/vf_loss", vf_loss);
    means.Add("critic/vf_clipfrac", vf_clipfrac);
    means.Add("critic/grad_norm", norm);
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
