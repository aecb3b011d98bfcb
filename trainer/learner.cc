#include "trainer/learner.h"

#include <ATen/ATen.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "spdlog/spdlog.h"
#include "trainer/advantages.h"
#include "trainer/batching.h"
#include "trainer/internal/random.h"
#include "trainer/losses.h"

namespace ponder::trainer {
namespace {

using Clock = std::chrono::steady_clock;

// The batch laid out for the model: rows = prompt + response, right-padded.
struct PackedBatch {
  int64_t size = 0;
  at::Tensor tokens;                      // [B, L] int64
  at::Tensor attention_mask;              // [B, L] int64
  at::Tensor targets;                     // [B, L] int64, -1 outside the responses
  at::Tensor positions;                   // [B, T] int64: where each response token's log-prob sits
  at::Tensor mask;                        // [B, T] dtype: response tokens
  std::vector<int64_t> lengths;           // prompt + response
  std::vector<int64_t> response_lengths;  // response
};

PackedBatch Pack(const std::vector<Trajectory>& batch, at::ScalarType dtype, c10::Device device) {
  PackedBatch p;
  p.size = static_cast<int64_t>(batch.size());
  int64_t L = 0, T = 0;
  for (const Trajectory& t : batch) {
    const int64_t P = static_cast<int64_t>(t.prompt_ids.size());
    const int64_t R = static_cast<int64_t>(t.response_ids.size());
    p.lengths.push_back(P + R);
    p.response_lengths.push_back(R);
    L = std::max(L, P + R);
    T = std::max(T, R);
  }
  at::Tensor tokens = at::zeros({p.size, L}, at::kLong);
  at::Tensor attention = at::zeros({p.size, L}, at::kLong);
  at::Tensor targets = at::full({p.size, L}, -1, at::kLong);
  at::Tensor positions = at::zeros({p.size, T}, at::kLong);
  at::Tensor mask = at::zeros({p.size, T}, at::kDouble);
  auto tk = tokens.accessor<int64_t, 2>();
  auto at_ = attention.accessor<int64_t, 2>();
  auto tg = targets.accessor<int64_t, 2>();
  auto ps = positions.accessor<int64_t, 2>();
  auto mk = mask.accessor<double, 2>();
  for (int64_t b = 0; b < p.size; ++b) {
    const Trajectory& t = batch[b];
    const int64_t P = static_cast<int64_t>(t.prompt_ids.size());
    for (int64_t j = 0; j < P; ++j) tk[b][j] = t.prompt_ids[j];
    for (int64_t r = 0; r < static_cast<int64_t>(t.response_ids.size()); ++r) {
      tk[b][P + r] = t.response_ids[r];
      tg[b][P + r - 1] = t.response_ids[r];  // predicted from the position before it
      ps[b][r] = P + r - 1;
      mk[b][r] = 1.0;
    }
    for (int64_t j = 0; j < P + static_cast<int64_t>(t.response_ids.size()); ++j) at_[b][j] = 1;
  }
  p.tokens = tokens.to(device);
  p.attention_mask = attention.to(device);
  p.targets = targets.to(device);
  p.positions = positions.to(device);
  p.mask = mask.to(device, dtype);
  return p;
}

at::Tensor RowIndex(const std::vector<int64_t>& rows, c10::Device device) {
  return at::tensor(rows, at::kLong).to(device);
}

// Rows `rows` of a [B, X] tensor, cut to the first `width` columns.
at::Tensor Rows(const at::Tensor& x, const at::Tensor& rows, int64_t width) {
  return x.index_select(0, rows).narrow(1, 0, width);
}

absl::Status FromTorch(const c10::Error& e, const char* what) {
  return absl::InternalError(absl::StrCat(what, " failed: ", e.what_without_backtrace()));
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

}  // namespace

struct Learner::Impl {
  AlgorithmOptions algo;
  TrainerOptions opts;
  LearnerOptions lopts;
  TrainablePolicy* policy = nullptr;
  TrainablePolicy* reference = nullptr;
  ValueModel* critic = nullptr;
  std::vector<at::Tensor> policy_params;
  std::vector<at::Tensor> critic_params;
  std::unique_ptr<torch::optim::AdamW> policy_opt;
  std::unique_ptr<torch::optim::AdamW> critic_opt;
  std::mt19937_64 rng;
  int64_t skipped_policy_steps = 0;
  int64_t skipped_critic_steps = 0;
  at::ScalarType dtype = at::kFloat;
  c10::Device device = c10::kCPU;

  std::unique_ptr<torch::optim::AdamW> MakeOptimizer(const std::vector<at::Tensor>& params,
                                                     double lr) const {
    torch::optim::AdamWOptions o(lr);
    o.betas(std::make_tuple(opts.betas[0], opts.betas[1]));
    o.eps(opts.eps);
    o.weight_decay(opts.weight_decay);
    return std::make_unique<torch::optim::AdamW>(params, o);
  }

  static void SetLr(torch::optim::Optimizer& opt, double lr) {
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
  }

  double NormConstant() const {
    return algo.loss_scale_factor > 0 ? algo.loss_scale_factor
                                      : static_cast<double>(lopts.max_response_length);
  }

  absl::Status Validate(const std::vector<Trajectory>& batch) const {
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

  // Log-probs (and entropy) of the response tokens of `rows`: [n, T_rows].
  absl::StatusOr<std::pair<at::Tensor, at::Tensor>> ScoreRows(TrainablePolicy* model,
                                                              const PackedBatch& b,
                                                              const std::vector<int64_t>& rows,
                                                              bool entropy) const {
    int64_t L = 0, T = 0;
    for (int64_t r : rows) {
      L = std::max(L, b.lengths[r]);
      T = std::max(T, b.response_lengths[r]);
    }
    at::Tensor idx = RowIndex(rows, device);
    absl::StatusOr<TokenScores> scores;
    try {
      scores = model->Score(Rows(b.tokens, idx, L), Rows(b.attention_mask, idx, L),
                            Rows(b.targets, idx, L), entropy);
    } catch (const c10::Error& e) {
      return FromTorch(e, "policy forward");
    }
    if (!scores.ok()) return scores.status();
    at::Tensor positions = Rows(b.positions, idx, T);
    at::Tensor logp = scores->log_probs.gather(1, positions).to(dtype);
    at::Tensor ent;
    if (entropy && scores->entropy.defined()) ent = scores->entropy.gather(1, positions).to(dtype);
    return std::make_pair(logp, ent);
  }

  absl::StatusOr<at::Tensor> ValueRows(const PackedBatch& b,
                                       const std::vector<int64_t>& rows) const {
    int64_t L = 0, T = 0;
    for (int64_t r : rows) {
      L = std::max(L, b.lengths[r]);
      T = std::max(T, b.response_lengths[r]);
    }
    at::Tensor idx = RowIndex(rows, device);
    absl::StatusOr<at::Tensor> values;
    try {
      values = critic->Values(Rows(b.tokens, idx, L), Rows(b.attention_mask, idx, L));
    } catch (const c10::Error& e) {
      return FromTorch(e, "critic forward");
    }
    if (!values.ok()) return values.status();
    return values->gather(1, Rows(b.positions, idx, T)).to(dtype);
  }

  // A no-grad pass over the whole batch in micro-batches, filling [B, T].
  template <typename Fn>
  absl::StatusOr<at::Tensor> FillAll(const PackedBatch& b, Fn&& fn) const {
    at::NoGradGuard no_grad;
    at::Tensor out = at::zeros_like(b.mask);
    std::vector<int64_t> all(b.size);
    for (int64_t i = 0; i < b.size; ++i) all[i] = i;
    for (const auto& rows : PackMicroBatches(all, b.lengths, opts.max_tokens_per_micro_batch)) {
      absl::StatusOr<at::Tensor> part = fn(rows);
      if (!part.ok()) return part.status();
      at::Tensor idx = RowIndex(rows, device);
      out.index_copy_(0, idx, at::constant_pad_nd(*part, {0, out.size(1) - part->size(1)}));
    }
    return out * b.mask;
  }

  // Global L2 norm of the gradients; non-finite when any gradient is.
  static double GradNorm(const std::vector<at::Tensor>& params) {
    double sq = 0;
    for (const at::Tensor& p : params) {
      if (p.grad().defined()) {
        const double n = p.grad().norm().item<double>();
        sq += n * n;
      }
    }
    return std::sqrt(sq);
  }

  // Drops the gradients (rather than filling them with zeros): the next backward writes them
  // afresh, and parameters without a gradient are skipped by AdamW.
  static void ClearGrads(const std::vector<at::Tensor>& params) {
    for (const at::Tensor& p : params) {
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
    }
  }

  // Clips and steps, or skips the step when `ok_loss` is false or the gradients are not
  // finite. Returns the gradient norm before clipping.
  double ClipAndStep(torch::optim::Optimizer& opt, const std::vector<at::Tensor>& params,
                     bool ok_loss, int64_t& skipped, const char* who) {
    const double norm = GradNorm(params);
    if (!ok_loss || !std::isfinite(norm)) {
      ++skipped;
      spdlog::warn("{}: non-finite {} -- optimizer step skipped ({} skipped so far)", who,
                   ok_loss ? "gradients" : "loss", skipped);
      ClearGrads(params);
      return norm;
    }
    if (opts.grad_clip > 0 && norm > opts.grad_clip) {
      const double coef = opts.grad_clip / (norm + 1e-6);
      for (const at::Tensor& p : params) {
        if (p.grad().defined()) p.grad().mul_(coef);
      }
    }
    opt.step();
    return norm;
  }
};

Learner::Learner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Learner::~Learner() = default;

torch::optim::Optimizer& Learner::policy_optimizer() { return *impl_->policy_opt; }
torch::optim::Optimizer* Learner::critic_optimizer() { return impl_->critic_opt.get(); }

absl::StatusOr<std::unique_ptr<Learner>> Learner::Create(
    const AlgorithmOptions& algorithm, const TrainerOptions& trainer, const LearnerOptions& options,
    TrainablePolicy* policy, TrainablePolicy* reference, ValueModel* critic) {
  if (absl::Status s = algorithm.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", s.message()));
  }
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
        "adv_estimator gae needs a critic (a value model); none was given");
  }
  if (algorithm.loss_agg_mode == LossAggMode::kSeqMeanTokenSumNorm &&
      algorithm.loss_scale_factor <= 0 && options.max_response_length <= 0) {
    return absl::InvalidArgumentError(
        "loss_agg_mode seq-mean-token-sum-norm divides by a constant: set "
        "algorithm.loss_scale_factor or give the rollout's max response length");
  }
  auto impl = std::make_unique<Impl>();
  impl->algo = algorithm;
  impl->opts = trainer;
  impl->lopts = options;
  impl->policy = policy;
  impl->reference = reference;
  impl->critic = algorithm.NeedsCritic() ? critic : nullptr;
  impl->rng.seed(options.seed);
  for (const at::Tensor& p : policy->Parameters()) {
    if (p.requires_grad()) impl->policy_params.push_back(p);
  }
  if (impl->policy_params.empty()) {
    return absl::InvalidArgumentError("the policy has no trainable parameters");
  }
  impl->dtype = impl->policy_params[0].scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  impl->device = impl->policy_params[0].device();
  impl->policy_opt = impl->MakeOptimizer(impl->policy_params, trainer.lr);
  if (impl->critic != nullptr) {
    for (const at::Tensor& p : impl->critic->Parameters()) {
      if (p.requires_grad()) impl->critic_params.push_back(p);
    }
    if (impl->critic_params.empty()) {
      return absl::InvalidArgumentError("the critic has no trainable parameters");
    }
    impl->critic_opt = impl->MakeOptimizer(impl->critic_params, trainer.critic_lr);
  }
  return std::unique_ptr<Learner>(new Learner(std::move(impl)));
}

absl::StatusOr<LearnerStep> Learner::Step(const std::vector<Trajectory>& batch, int64_t step) {
  Impl& m = *impl_;
  const AlgorithmOptions& algo = m.algo;
  PONDER_RETURN_IF_ERROR(m.Validate(batch));
  const auto t_start = Clock::now();
  const PackedBatch b = Pack(batch, m.dtype, m.device);
  const int64_t B = b.size;
  LearnerStep out;
  MetricMeans means;

  // 1. Old, reference and critic values (no grad).
  at::Tensor behaviour;
  bool all_behaviour = true;
  for (const Trajectory& t : batch) all_behaviour = all_behaviour && !t.behaviour_log_probs.empty();
  if (all_behaviour) {
    at::Tensor bl = at::zeros({B, b.mask.size(1)}, at::kDouble);
    auto acc = bl.accessor<double, 2>();
    for (int64_t i = 0; i < B; ++i) {
      for (size_t r = 0; r < batch[i].behaviour_log_probs.size(); ++r) {
        acc[i][r] = batch[i].behaviour_log_probs[r];
      }
    }
    behaviour = bl.to(m.device, m.dtype);
  }
  at::Tensor old_logp;
  if (m.opts.recompute_logprobs) {
    PONDER_ASSIGN_OR_RETURN(
        old_logp, m.FillAll(b, [&](const std::vector<int64_t>& rows) -> absl::StatusOr<at::Tensor> {
          PONDER_ASSIGN_OR_RETURN(auto s, m.ScoreRows(m.policy, b, rows, false));
          return s.first;
        }));
    if (all_behaviour) {
      out.metrics["rollout/logp_mismatch/mean"] =
          ((old_logp - behaviour).abs() * b.mask).sum().item<double>() /
          b.mask.sum().item<double>();
    }
  } else {
    old_logp = behaviour;
  }
  at::Tensor ref_logp;
  if (algo.NeedsReference()) {
    PONDER_ASSIGN_OR_RETURN(
        ref_logp, m.FillAll(b, [&](const std::vector<int64_t>& rows) -> absl::StatusOr<at::Tensor> {
          PONDER_ASSIGN_OR_RETURN(auto s, m.ScoreRows(m.reference, b, rows, false));
          return s.first;
        }));
    const at::Tensor kl = KlPenalty(old_logp, ref_logp, KlEstimator::kK1);
    out.metrics["kl_ref/mean"] = (kl * b.mask).sum().item<double>() / b.mask.sum().item<double>();
  }
  at::Tensor old_values;
  if (m.critic != nullptr) {
    PONDER_ASSIGN_OR_RETURN(old_values, m.FillAll(b, [&](const std::vector<int64_t>& rows) {
      return m.ValueRows(b, rows);
    }));
  }

  // 2. Group reward shaping.
  std::vector<double> scores(B);
  std::vector<bool> correct(B);
  std::vector<int64_t> group_ids(B);
  for (int64_t i = 0; i < B; ++i) {
    scores[i] = batch[i].score;
    correct[i] = batch[i].correct.value_or(batch[i].score > 0);
    group_ids[i] = batch[i].group;
  }
  if (m.lopts.group_shaping) {
    std::map<int64_t, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < B; ++i) groups[group_ids[i]].push_back(i);
    for (const auto& [group, rows] : groups) {
      std::vector<int64_t> lengths;
      std::vector<bool> ok;
      std::vector<double> s;
      for (int64_t i : rows) {
        lengths.push_back(b.response_lengths[i]);
        ok.push_back(correct[i]);
        s.push_back(scores[i]);
      }
      absl::Status st = m.lopts.group_shaping(step, lengths, ok, s);
      if (!st.ok()) return Annotate(st, absl::StrCat("group reward shaping of group ", group));
      for (size_t k = 0; k < rows.size(); ++k) scores[rows[k]] = s[k];
    }
  }
  out.scores = scores;

  // 3-4. KL in the reward, advantages.
  AdvantageInput adv_in;
  adv_in.scores = at::tensor(scores, at::kDouble).to(m.device, m.dtype);
  adv_in.mask = b.mask;
  adv_in.group_ids = group_ids;
  adv_in.values = old_values;
  if (algo.use_kl_in_reward && algo.kl_coef > 0) {
    adv_in.token_rewards = -algo.kl_coef * KlPenalty(old_logp, ref_logp, algo.kl_penalty) * b.mask;
  }
  PONDER_ASSIGN_OR_RETURN(Advantages adv, ComputeAdvantages(algo, adv_in));
  {
    const double n = b.mask.sum().item<double>();
    const double mean = (adv.advantages * b.mask).sum().item<double>() / n;
    const double var =
        ((adv.advantages - mean).pow(2) * b.mask).sum().item<double>() / std::max(1.0, n);
    out.metrics["adv/mean"] = mean;
    out.metrics["adv/std"] = std::sqrt(var);
    at::Tensor per_sample =
        ((adv.advantages * b.mask).sum(1) / b.mask.sum(1).clamp_min(1.0)).to(at::kDouble).cpu();
    out.advantages.assign(per_sample.data_ptr<double>(), per_sample.data_ptr<double>() + B);
    if (m.critic != nullptr) {
      const double ret_mean = (adv.returns * b.mask).sum().item<double>() / n;
      const double ret_var = ((adv.returns - ret_mean).pow(2) * b.mask).sum().item<double>() / n;
      const double res = ((adv.returns - old_values) * b.mask).sum().item<double>() / n;
      const double res_var =
          ((adv.returns - old_values - res).pow(2) * b.mask).sum().item<double>() / n;
      out.metrics["critic/explained_var"] = ret_var > 0 ? 1.0 - res_var / ret_var : 0.0;
      out.metrics["critic/values/mean"] = (old_values * b.mask).sum().item<double>() / n;
    }
  }

  // 5. Updates.
  at::Tensor loss_mask = b.mask;
  if (algo.mask_truncated) {
    std::vector<double> keep(B);
    for (int64_t i = 0; i < B; ++i) keep[i] = batch[i].truncated ? 0.0 : 1.0;
    loss_mask = b.mask * at::tensor(keep, at::kDouble).to(m.device, m.dtype).unsqueeze(1);
  }
  std::vector<double> positive_v(B);
  for (int64_t i = 0; i < B; ++i) positive_v[i] = correct[i] ? 1.0 : 0.0;
  const at::Tensor positive = at::tensor(positive_v, at::kDouble).to(m.device, m.dtype);

  if (algo.reset_optimizer_per_step) m.policy_opt = m.MakeOptimizer(m.policy_params, m.opts.lr);
  const double lr = ScheduledLearningRate(m.opts, m.opts.lr, step);
  Impl::SetLr(*m.policy_opt, lr);
  out.metrics["actor/lr"] = lr;
  const bool update_actor = m.critic == nullptr || step >= m.opts.critic_warmup;
  if (m.critic_opt) {
    const double critic_lr = ScheduledLearningRate(m.opts, m.opts.critic_lr, step);
    Impl::SetLr(*m.critic_opt, critic_lr);
    out.metrics["critic/lr"] = critic_lr;
  }
  // Entropy is computed on every forward: it is a loss term with entropy_coeff and the
  // actor/entropy metric (the early warning of collapse) otherwise.
  const bool need_entropy = true;
  int64_t train_tokens = 0;
  double forward_s = 0, backward_s = 0, optimizer_s = 0;
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  for (int64_t epoch = 0; epoch < m.opts.ppo_epochs; ++epoch) {
    auto minis =
        SplitMiniBatches(group_ids, m.opts.ppo_mini_batch_size, m.opts.shuffle ? &m.rng : nullptr);
    for (const std::vector<int64_t>& mini : minis) {
      const at::Tensor mini_idx = RowIndex(mini, m.device);
      const LossScale scale = LossScale::Of(loss_mask.index_select(0, mini_idx), m.NormConstant(),
                                            positive.index_select(0, mini_idx));
      if (scale.tokens == 0) {  // every sample masked (truncated with mask_truncated)
        means.Add("actor/empty_mini_batches", 1.0);
        continue;
      }
      const auto micros = PackMicroBatches(mini, b.lengths, m.opts.max_tokens_per_micro_batch);
      if (update_actor) {
        Impl::ClearGrads(m.policy_params);
        bool finite = true;
        std::map<std::string, double> sums;
        for (const std::vector<int64_t>& rows : micros) {
          int64_t T = 0;
          for (int64_t r : rows) {
            T = std::max(T, b.response_lengths[r]);
            train_tokens += b.lengths[r];
          }
          const at::Tensor idx = RowIndex(rows, m.device);
          auto t_forward = Clock::now();
          PONDER_ASSIGN_OR_RETURN(auto scored, m.ScoreRows(m.policy, b, rows, need_entropy));
          PolicyLossInput in;
          in.log_probs = scored.first;
          in.old_log_probs = Rows(old_logp, idx, T);
          in.advantages = Rows(adv.advantages, idx, T);
          in.mask = Rows(loss_mask, idx, T);
          PolicyLoss pl = ComputePolicyLoss(in, algo, scale);
          at::Tensor total = pl.loss;
          sums["actor/pg_loss"] += pl.loss.item<double>();
          sums["actor/clipfrac"] += pl.clipfrac;
          sums["actor/ppo_kl"] += pl.approx_kl;
          if (algo.clip_ratio_c > 0 && algo.policy_loss == PolicyLossKind::kPpo) {
            sums["actor/clipfrac_lower"] += pl.clipfrac_lower;
          }
          if (algo.use_kl_loss && algo.kl_loss_coef > 0) {
            at::Tensor kl =
                AggregateLoss(KlPenalty(in.log_probs, Rows(ref_logp, idx, T), algo.kl_loss_type),
                              in.mask, algo.loss_agg_mode, scale);
            total = total + algo.kl_loss_coef * kl;
            sums["actor/kl_loss"] += kl.item<double>();
          }
          if (scored.second.defined()) {
            const at::Tensor& entropy = scored.second;
            sums["actor/entropy"] +=
                (entropy.detach() * in.mask).sum().item<double>() / std::max(1.0, scale.tokens);
            if (algo.entropy_coeff != 0) {
              total = total - algo.entropy_coeff *
                                  AggregateLoss(entropy, in.mask, algo.loss_agg_mode, scale);
            }
          }
          if (algo.positive_nll_coef > 0 && scale.positive_tokens > 0) {
            at::Tensor nll =
                PositiveNll(in.log_probs, in.mask, positive.index_select(0, idx), scale);
            total = total + algo.positive_nll_coef * nll;
            sums["actor/nll_loss"] += nll.item<double>();
          }
          const double value = total.item<double>();
          forward_s += since(t_forward);
          if (!std::isfinite(value)) {
            finite = false;
            break;
          }
          auto t_backward = Clock::now();
          try {
            total.backward();
          } catch (const c10::Error& e) {
            return FromTorch(e, "policy backward");
          }
          backward_s += since(t_backward);
        }
        auto t_optimizer = Clock::now();
        const double norm =
            m.ClipAndStep(*m.policy_opt, m.policy_params, finite, m.skipped_policy_steps, "policy");
        optimizer_s += since(t_optimizer);
        if (finite && std::isfinite(norm)) {
          for (const auto& [name, v] : sums) means.Add(name, v);
          means.Add("actor/grad_norm", norm);
        }
      }
      if (m.critic != nullptr) {
        Impl::ClearGrads(m.critic_params);
        bool finite = true;
        double vf_loss = 0, vf_clipfrac = 0;
        for (const std::vector<int64_t>& rows : micros) {
          int64_t T = 0;
          for (int64_t r : rows) T = std::max(T, b.response_lengths[r]);
          const at::Tensor idx = RowIndex(rows, m.device);
          PONDER_ASSIGN_OR_RETURN(at::Tensor values, m.ValueRows(b, rows));
          ValueLoss vl = ClippedValueLoss(values, Rows(old_values, idx, T),
                                          Rows(adv.returns, idx, T), Rows(loss_mask, idx, T),
                                          algo.cliprange_value, algo.loss_agg_mode, scale);
          const double value = vl.loss.item<double>();
          if (!std::isfinite(value)) {
            finite = false;
            break;
          }
          vf_loss += value;
          vf_clipfrac += vl.clipfrac;
          try {
            vl.loss.backward();
          } catch (const c10::Error& e) {
            return FromTorch(e, "critic backward");
          }
        }
        const double norm =
            m.ClipAndStep(*m.critic_opt, m.critic_params, finite, m.skipped_critic_steps, "critic");
        if (finite && std::isfinite(norm)) {
          means.Add("critic/vf_loss", vf_loss);
          means.Add("critic/vf_clipfrac", vf_clipfrac);
          means.Add("critic/grad_norm", norm);
        }
      }
    }
  }
  means.Into(out.metrics);
  const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  out.metrics["actor/skipped_steps"] = static_cast<double>(m.skipped_policy_steps);
  if (m.critic != nullptr) {
    out.metrics["critic/skipped_steps"] = static_cast<double>(m.skipped_critic_steps);
  }
  out.metrics["timing/update_s"] = seconds;
  out.metrics["timing/update_forward_s"] = forward_s;
  out.metrics["timing/update_backward_s"] = backward_s;
  out.metrics["timing/update_optimizer_s"] = optimizer_s;
  out.metrics["perf/train_tokens_per_s"] = seconds > 0 ? train_tokens / seconds : 0.0;
  return out;
}

std::string Learner::SaveState() const {
  return nlohmann::json{{"rng", internal::EngineState(impl_->rng)},
                        {"skipped_policy_steps", impl_->skipped_policy_steps},
                        {"skipped_critic_steps", impl_->skipped_critic_steps}}
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
    impl_->skipped_policy_steps = skipped_policy;
    impl_->skipped_critic_steps = skipped_critic;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("learner state is not valid: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
