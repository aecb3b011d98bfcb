// Learner::Step in named phases (the order of learner.h): reference terms, score shaping,
// advantages and their statistics, the loss inputs (masks, rollout correction), then the
// policy and critic updates over mini-batches and epochs. The loss terms are composed in one
// place, PolicyLossTerms.
#include "trainer/learner.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/advantage_estimator.h"
#include "trainer/batching.h"
#include "trainer/data_parallel.h"
#include "trainer/gradient_reducer.h"
#include "trainer/internal/random.h"
#include "trainer/losses.h"
#include "trainer/optimizer.h"
#include "trainer/packed_batch.h"
#include "trainer/policy_loss.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Running means of metrics over the updates of one step.
class MetricMeans {
 public:
  void Add(const std::string& name, double value) {
    auto& [sum, n] = sums_[name];
    sum += value;
    ++n;
  }
  void Into(std::map<std::string, double>& out) const {
    for (const auto& [name, s] : sums_) out[name] = s.first / s.second;
  }

 private:
  std::map<std::string, std::pair<double, int64_t>> sums_;
};

// Mean of `x` over the mask positions.
double MaskedMean(const at::Tensor& x, const at::Tensor& mask) {
  return (x * mask).sum().item<double>() / mask.sum().item<double>();
}

// What the phases of one step share.
struct StepData {
  const std::vector<Trajectory>* batch = nullptr;
  PackedBatch b;
  at::Tensor behaviour;   // [B, T] the rollout's log-probs (undefined unless every sample has them)
  at::Tensor old_logp;    // [B, T] pi_old
  at::Tensor ref_logp;    // [B, T] the reference's, when a KL term needs it
  at::Tensor old_values;  // [B, T] the critic's, with a critic
  std::vector<double> scores;  // after group shaping
  std::vector<bool> correct;
  std::vector<int64_t> group_ids;
  Advantages adv;
  at::Tensor loss_mask;  // [B, T] tokens that enter the losses
  at::Tensor weights;    // [B, T] per-token policy-gradient weights (rollout correction)
  at::Tensor positive;   // [B] samples marked correct (positive-example NLL)
};

// The summed loss of one micro-batch and the metrics of its terms.
struct LossTerms {
  at::Tensor total;
  std::map<std::string, double> sums;
};

// Where an update's time went, and the tokens it processed.
struct UpdateCounters {
  int64_t train_tokens = 0;
  double forward_s = 0, backward_s = 0, optimizer_s = 0;
};

}  // namespace

struct Learner::Impl {
  AlgorithmOptions algo;
  TrainerOptions opts;
  LearnerOptions lopts;
  TrainablePolicy* policy = nullptr;
  TrainablePolicy* reference = nullptr;
  ValueModel* critic = nullptr;
  std::unique_ptr<PolicyLoss> loss;
  std::unique_ptr<AdvantageEstimator> estimator;
  std::unique_ptr<RolloutCorrection> correction;  // null: none
  std::unique_ptr<OptimizerStep> policy_opt;
  std::unique_ptr<OptimizerStep> critic_opt;  // with a critic
  std::mt19937_64 rng;
  at::ScalarType dtype = at::kFloat;
  c10::Device device = c10::kCPU;
  DataParallel* dp = nullptr;  // several trainer ranks (data_parallel.h); null: one
  std::unique_ptr<GradientReducer> policy_reducer;  // with dp
  std::unique_ptr<GradientReducer> critic_reducer;  // with dp and a critic

  absl::Status Validate(const std::vector<Trajectory>& batch) const;
  absl::Status ReferenceTerms(StepData& d, LearnerStep& out) const;
  absl::Status ShapeScores(StepData& d, int64_t step, LearnerStep& out) const;
  absl::Status EstimateAdvantages(StepData& d, LearnerStep& out) const;
  absl::Status LossInputs(StepData& d, LearnerStep& out) const;
  absl::Status Update(const StepData& d, int64_t step, LearnerStep& out, UpdateCounters& counters);
  absl::StatusOr<LearnerStep> RunStep(const std::vector<Trajectory>& batch, int64_t step);
  absl::Status UpdatePolicy(const StepData& d, const std::vector<std::vector<int64_t>>& micros,
                            const LossScale& scale, MetricMeans& means, UpdateCounters& counters);
  absl::StatusOr<LossTerms> PolicyLossTerms(const StepData& d, const std::vector<int64_t>& rows,
                                            const RowScores& scored, const LossScale& scale) const;
  absl::Status UpdateCritic(const StepData& d, const std::vector<std::vector<int64_t>>& micros,
                            const LossScale& scale, MetricMeans& means);

  // The rows of `rows` this rank computes: all of them, or its share on several ranks.
  std::vector<int64_t> Mine(const std::vector<int64_t>& rows, const PackedBatch& b) const {
    return dp != nullptr ? dp->Share(rows, b.lengths) : rows;
  }
  // A no-grad pass over the batch (FillAll), or over this rank's share (DataParallel::Fill).
  absl::StatusOr<at::Tensor> Fill(const PackedBatch& b, const char* what, const RowsFn& fn) const {
    return dp != nullptr ? dp->Fill(b, opts.max_tokens_per_micro_batch, fn, what)
                         : FillAll(b, opts.max_tokens_per_micro_batch, fn);
  }

  double NormConstant() const {
    return algo.loss_scale_factor > 0 ? algo.loss_scale_factor
                                      : static_cast<double>(lopts.max_response_length);
  }
};

absl::Status Learner::Impl::Validate(const std::vector<Trajectory>& batch) const {
  if (batch.empty()) return absl::InvalidArgumentError("learner step on an empty batch");
  for (size_t i = 0; i < batch.size(); ++i) {
    const Trajectory& t = batch[i];
    auto bad = [i](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("trajectory ", i, ": ", what));
    };
    if (t.prompt_ids.empty()) return bad("empty prompt");
    if (t.response_ids.empty()) return bad("empty response");
    if (!std::isfinite(t.score)) return bad(absl::StrCat("score is not finite (", t.score, ")"));
    if (!t.behaviour_log_probs.empty() && t.behaviour_log_probs.size() != t.response_ids.size()) {
      return bad(absl::StrCat(t.behaviour_log_probs.size(), " behaviour log-probs for ",
                              t.response_ids.size(), " response tokens"));
    }
    if (!opts.recompute_logprobs && t.behaviour_log_probs.empty()) {
      return bad("no behaviour log-probs, and trainer.recompute_logprobs is false");
    }
    for (float lp : t.behaviour_log_probs) {
      if (!std::isfinite(lp) || lp > 0) {
        return bad(absl::StrCat("behaviour log-prob ", lp, " is not a log-probability"));
      }
    }
  }
  return absl::OkStatus();
}

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

// ---- Learner ------------------------------------------------------------------------------

Learner::Learner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Learner::~Learner() = default;

torch::optim::Optimizer& Learner::policy_optimizer() { return impl_->policy_opt->optimizer(); }
torch::optim::Optimizer* Learner::critic_optimizer() {
  return impl_->critic_opt ? &impl_->critic_opt->optimizer() : nullptr;
}

namespace {

// What the learner needs besides the options, checked before anything is built.
absl::Status CheckModels(const AlgorithmOptions& algorithm, const LearnerOptions& options,
                         TrainablePolicy* policy, TrainablePolicy* reference, ValueModel* critic) {
  if (policy == nullptr) return absl::InvalidArgumentError("the learner needs a policy");
  if (algorithm.NeedsReference() && reference == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "algorithm '", algorithm.name,
        "' has a KL term to a reference policy (use_kl_loss / use_kl_in_reward with a non-zero "
        "coefficient) but no reference policy was given; load one, or set "
        "algorithm.use_kl_loss: false and algorithm.use_kl_in_reward: false"));
  }
  if (algorithm.NeedsCritic() && critic == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("adv_estimator ", algorithm.adv_estimator,
                     " needs a critic (a value model); none was given"));
  }
  if (algorithm.loss_agg_mode == LossAggMode::kSeqMeanTokenSumNorm &&
      algorithm.loss_scale_factor <= 0 && options.max_response_length <= 0) {
    return absl::InvalidArgumentError(
        "loss_agg_mode seq-mean-token-sum-norm divides by a constant: set "
        "algorithm.loss_scale_factor or give the rollout's max response length");
  }
  return absl::OkStatus();
}

std::vector<at::Tensor> Trainable(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : params) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Learner>> Learner::Create(
    const AlgorithmOptions& algorithm, const TrainerOptions& trainer, const LearnerOptions& options,
    TrainablePolicy* policy, TrainablePolicy* reference, ValueModel* critic) {
  if (absl::Status s = algorithm.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", s.message()));
  }
  PONDER_RETURN_IF_ERROR(CheckModels(algorithm, options, policy, reference, critic));
  auto impl = std::make_unique<Impl>();
  impl->algo = algorithm;
  impl->opts = trainer;
  impl->lopts = options;
  impl->policy = policy;
  impl->reference = reference;
  impl->critic = algorithm.NeedsCritic() ? critic : nullptr;
  impl->rng.seed(options.seed);
  PONDER_ASSIGN_OR_RETURN(impl->loss, PolicyLosses().Create(algorithm.policy_loss, algorithm));
  PONDER_ASSIGN_OR_RETURN(impl->estimator,
                          AdvantageEstimators().Create(algorithm.adv_estimator, algorithm));
  if (!algorithm.rollout_correction.name.empty()) {
    PONDER_ASSIGN_OR_RETURN(impl->correction,
                            RolloutCorrections().Create(algorithm.rollout_correction.name,
                                                        algorithm.rollout_correction.options));
    if (!trainer.recompute_logprobs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm.rollout_correction ", algorithm.rollout_correction.name,
          " compares the trainer's log-probs with the rollout's: it needs "
          "trainer.recompute_logprobs true (without it pi_old is the rollout's, every ratio 1)"));
    }
  }
  std::vector<at::Tensor> params = Trainable(policy->Parameters());
  if (params.empty()) return absl::InvalidArgumentError("the policy has no trainable parameters");
  impl->dtype = params[0].scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  impl->device = params[0].device();
  impl->dp = options.data_parallel;
  if (impl->dp != nullptr) impl->policy_reducer = impl->dp->MakeReducer(params, "policy");
  impl->policy_opt =
      std::make_unique<OptimizerStep>(std::move(params), trainer, trainer.lr, "policy");
  if (impl->critic != nullptr) {
    std::vector<at::Tensor> critic_params = Trainable(impl->critic->Parameters());
    if (critic_params.empty()) {
      return absl::InvalidArgumentError("the critic has no trainable parameters");
    }
    if (impl->dp != nullptr) impl->critic_reducer = impl->dp->MakeReducer(critic_params, "critic");
    impl->critic_opt = std::make_unique<OptimizerStep>(std::move(critic_params), trainer,
                                                       trainer.critic_lr, "critic");
  }
  return std::unique_ptr<Learner>(new Learner(std::move(impl)));
}

absl::StatusOr<LearnerStep> Learner::Impl::RunStep(const std::vector<Trajectory>& batch,
                                                   int64_t step) {
  const auto start = Clock::now();
  StepData d;
  d.batch = &batch;
  d.b = Pack(batch, dtype, device);
  LearnerStep out;
  PONDER_RETURN_IF_ERROR(ReferenceTerms(d, out));
  PONDER_RETURN_IF_ERROR(ShapeScores(d, step, out));
  PONDER_RETURN_IF_ERROR(EstimateAdvantages(d, out));
  PONDER_RETURN_IF_ERROR(LossInputs(d, out));
  UpdateCounters counters;
  PONDER_RETURN_IF_ERROR(Update(d, step, out, counters));
  if (dp != nullptr) {
    std::vector<double> tokens = {static_cast<double>(counters.train_tokens)};
    PONDER_RETURN_IF_ERROR(dp->Sum(tokens, "trained tokens"));
    counters.train_tokens = static_cast<int64_t>(tokens[0]);
  }
  const double seconds = Since(start);
  out.metrics["timing/update_s"] = seconds;
  out.metrics["timing/update_forward_s"] = counters.forward_s;
  out.metrics["timing/update_backward_s"] = counters.backward_s;
  out.metrics["timing/update_optimizer_s"] = counters.optimizer_s;
  out.metrics["perf/train_tokens_per_s"] = seconds > 0 ? counters.train_tokens / seconds : 0.0;
  return out;
}

absl::StatusOr<LearnerStep> Learner::Step(const std::vector<Trajectory>& batch, int64_t step) {
  PONDER_RETURN_IF_ERROR(impl_->Validate(batch));
  try {
    return impl_->RunStep(batch, step);
  } catch (const c10::Error& e) {  // a shape or device mismatch, out of memory ...
    return absl::InternalError(absl::StrCat("learner step ", step + 1,
                                            " failed in LibTorch: ", e.what_without_backtrace()));
  }
}

std::string Learner::SaveState() const {
  return nlohmann::json{
      {"rng", internal::EngineState(impl_->rng)},
      {"skipped_policy_steps", impl_->policy_opt->skipped()},
      {"skipped_critic_steps", impl_->critic_opt ? impl_->critic_opt->skipped() : int64_t{0}}}
      .dump();
}

absl::Status Learner::LoadState(const std::string& state) {
  try {
    nlohmann::json j = nlohmann::json::parse(state);
    std::mt19937_64 rng;
    if (!internal::SetEngineState(j.at("rng").get<std::string>(), rng)) {
      return absl::InvalidArgumentError("learner state: 'rng' is not an engine state");
    }
    const int64_t skipped_policy = j.at("skipped_policy_steps").get<int64_t>();
    const int64_t skipped_critic = j.at("skipped_critic_steps").get<int64_t>();
    impl_->rng = rng;
    impl_->policy_opt->set_skipped(skipped_policy);
    if (impl_->critic_opt) impl_->critic_opt->set_skipped(skipped_critic);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("learner state is not valid: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
