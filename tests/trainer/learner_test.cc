// The learner on tiny float64 models: gradients of every loss against finite differences,
// exact gradient accumulation over micro-batches, non-finite steps skipped, bad input, and the
// direction of every preset's update.
#include "trainer/learner.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "base/config.h"
#include "model/decoder.h"
#include "trainer/advantage_estimator.h"
#include "trainer/advantages.h"
#include "trainer/algorithms/gspo_loss.h"
#include "trainer/algorithms/kimi_loss.h"
#include "trainer/algorithms/ppo_clip_loss.h"
#include "trainer/decoder_policy.h"
#include "trainer/losses.h"
#include "trainer/policy_loss.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kVocab = 6;

// A bigram policy: the next-token logits are E[token] @ W + c. float64.
class TinyPolicy : public TrainablePolicy {
 public:
  explicit TinyPolicy(uint64_t seed) {
    at::Generator g = at::detail::createCPUGenerator(seed);
    embed_ = at::randn({kVocab, 3}, g, at::kDouble).requires_grad_(true);
    head_ = at::randn({3, kVocab}, g, at::kDouble).mul_(0.5).requires_grad_(true);
    bias_ = at::zeros({kVocab}, at::kDouble).requires_grad_(true);
  }
  absl::StatusOr<TokenScores> Score(const at::Tensor& tokens, const at::Tensor& attention_mask,
                                    const at::Tensor& targets, bool with_entropy) override {
    ++calls;
    if (throw_in_score) throw std::runtime_error("the policy's device went away");
    at::Tensor logits = at::matmul(embed_.index_select(0, tokens.reshape(-1)), head_) + bias_;
    logits = logits.reshape({tokens.size(0), tokens.size(1), kVocab});
    at::Tensor logp_all = at::log_softmax(logits, -1);
    TokenScores s;
    s.log_probs = logp_all.gather(2, targets.clamp_min(0).unsqueeze(2)).squeeze(2);
    if (poison && at::GradMode::is_enabled()) s.log_probs = s.log_probs * NAN;
    if (with_entropy) s.entropy = -(logp_all.exp() * logp_all).sum(-1);
    if (flat_scores) s.log_probs = s.log_probs.reshape(-1);  // not [B, L]: LibTorch objects later
    return s;
  }
  std::vector<at::Tensor> Parameters() override { return {embed_, head_, bias_}; }
  at::Tensor Flat() const {
    return at::cat({embed_.detach().reshape(-1), head_.detach().reshape(-1), bias_.detach()});
  }
  double LogProb(int64_t prev, int64_t next) {
    at::NoGradGuard g;
    at::Tensor logits = at::matmul(embed_[prev], head_) + bias_;
    return at::log_softmax(logits, -1)[next].item<double>();
  }
  bool poison = false;
  bool throw_in_score = false;
  bool flat_scores = false;
  int calls = 0;

 private:
  at::Tensor embed_, head_, bias_;
};

class TinyCritic : public ValueModel {
 public:
  explicit TinyCritic(uint64_t seed) {
    at::Generator g = at::detail::createCPUGenerator(seed);
    table_ = at::randn({kVocab}, g, at::kDouble).mul_(0.1).requires_grad_(true);
  }
  absl::StatusOr<at::Tensor> Values(const at::Tensor& tokens, const at::Tensor&) override {
    return table_.index_select(0, tokens.reshape(-1)).reshape(tokens.sizes());
  }
  std::vector<at::Tensor> Parameters() override { return {table_}; }
  at::Tensor Flat() const { return table_.detach().clone(); }

 private:
  at::Tensor table_;
};

// 3 prompts x 4 samples with ragged lengths; reward 1 when the response contains token 3.
std::vector<Trajectory> Batch(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Trajectory> batch;
  for (int64_t g = 0; g < 3; ++g) {
    for (int k = 0; k < 4; ++k) {
      Trajectory t;
      t.group = 100 + g;
      t.prompt_ids = {static_cast<int32_t>(1 + g)};
      if (g == 2) t.prompt_ids.push_back(5);
      const int len = 1 + static_cast<int>(rng() % 5);
      bool hit = false;
      for (int j = 0; j < len; ++j) {
        int32_t tok = static_cast<int32_t>(rng() % kVocab);
        hit = hit || tok == 3;
        t.response_ids.push_back(tok);
      }
      t.score = hit ? 1.0 : 0.0;
      t.truncated = len == 5;
      batch.push_back(t);
    }
  }
  return batch;
}

TrainerOptions Trainer() {
  TrainerOptions o;
  o.lr = 1e-2;
  o.critic_lr = 1e-2;
  o.weight_decay = 0.01;
  o.grad_clip = 0.0;
  return o;
}

LearnerOptions Options(int64_t max_response_length, uint64_t seed) {
  LearnerOptions o;
  o.max_response_length = max_response_length;
  o.seed = seed;
  return o;
}

AlgorithmOptions Algo(const std::string& name) {
  AlgorithmOptions a = *AlgorithmPreset(name);
  a.use_kl_loss = false;
  a.use_kl_in_reward = false;
  return a;
}

// ---- Finite differences -------------------------------------------------------------------

// Autograd against central differences of `loss` with respect to every parameter element.
void CheckGradients(TinyPolicy& policy, const std::function<at::Tensor()>& loss,
                    const std::string& what) {
  for (at::Tensor& p : policy.Parameters()) p.mutable_grad() = at::Tensor();
  loss().backward();
  const double h = 1e-6;
  for (at::Tensor& p : policy.Parameters()) {
    at::Tensor grad = p.grad().clone();
    at::Tensor flat = p.detach().view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double x = flat[i].item<double>();
      double plus, minus;
      {
        at::NoGradGuard g;
        flat[i] = x + h;
        plus = loss().item<double>();
        flat[i] = x - h;
        minus = loss().item<double>();
        flat[i] = x;
      }
      const double numeric = (plus - minus) / (2 * h);
      EXPECT_NEAR(grad.view(-1)[i].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << what << " parameter element " << i;
    }
  }
}

TEST(LearnerGradientTest, EveryLossMatchesFiniteDifferencesOnATinyModel) {
  TinyPolicy policy(3);
  TinyPolicy reference(4);
  std::vector<Trajectory> batch = Batch(9);
  // Lay the batch out as the learner does: one row per trajectory.
  const int64_t B = static_cast<int64_t>(batch.size());
  int64_t L = 0, T = 0;
  for (const auto& t : batch) {
    L = std::max<int64_t>(L, t.prompt_ids.size() + t.response_ids.size());
    T = std::max<int64_t>(T, t.response_ids.size());
  }
  at::Tensor tokens = at::zeros({B, L}, at::kLong), targets = at::full({B, L}, -1, at::kLong);
  at::Tensor pos = at::zeros({B, T}, at::kLong), mask = at::zeros({B, T}, at::kDouble);
  for (int64_t b = 0; b < B; ++b) {
    const auto& t = batch[b];
    const int64_t P = t.prompt_ids.size();
    for (int64_t j = 0; j < P; ++j) tokens[b][j] = static_cast<int64_t>(t.prompt_ids[j]);
    for (size_t r = 0; r < t.response_ids.size(); ++r) {
      tokens[b][P + r] = static_cast<int64_t>(t.response_ids[r]);
      targets[b][P + r - 1] = static_cast<int64_t>(t.response_ids[r]);
      pos[b][r] = static_cast<int64_t>(P + r - 1);
      mask[b][r] = 1;
    }
  }
  auto logp = [&](TinyPolicy& p, bool entropy) {
    TokenScores s = *p.Score(tokens, at::ones_like(tokens), targets, entropy);
    return std::make_pair(s.log_probs.gather(1, pos),
                          entropy ? s.entropy.gather(1, pos) : at::Tensor());
  };
  at::Tensor old, ref;
  {
    at::NoGradGuard g;
    old = logp(policy, false).first + 0.3 * at::randn({B, T}, at::kDouble);  // ratios != 1
    ref = logp(reference, false).first;
  }
  at::Tensor adv = at::randn({B, T}, at::kDouble) * mask;
  at::Tensor seq_adv = at::randn({B, 1}, at::kDouble) * mask;
  at::Tensor positive =
      at::tensor({1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0}, at::kDouble);
  const LossScale scale = LossScale::Of(mask, 5.0, positive);
  for (LossAggMode mode : {LossAggMode::kTokenMean, LossAggMode::kSeqMeanTokenSum,
                           LossAggMode::kSeqMeanTokenMean, LossAggMode::kSeqMeanTokenSumNorm}) {
    const std::string m = LossAggModeName(mode);
    CheckGradients(
        policy,
        [&] {
          return PpoClipLoss(0.2, 0.28, 3.0, mode)
              .Compute({logp(policy, false).first, old, adv, mask, {}}, scale)
              .loss;
        },
        "ppo " + m);
    CheckGradients(
        policy,
        [&] {
          // GSPO's gradient is that of its value when the advantage is one per sample (as
          // GSPO defines it), which is how it is used.
          return GspoLoss(0.2, 0.28, mode)
              .Compute({logp(policy, false).first, old, seq_adv, mask, {}}, scale)
              .loss;
        },
        "gspo " + m);
    for (KlEstimator e : {KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
      CheckGradients(
          policy,
          [&] {
            return AggregateLoss(KlPenalty(logp(policy, false).first, ref, e), mask, mode, scale);
          },
          "kl " + m);
    }
    CheckGradients(
        policy, [&] { return AggregateLoss(logp(policy, true).second, mask, mode, scale); },
        "entropy " + m);
  }
  CheckGradients(
      policy,
      [&] {
        return KimiLoss(0.5)
            .Compute({logp(policy, false).first, old, seq_adv, mask, {}}, scale)
            .loss;
      },
      "kimi");
  CheckGradients(
      policy, [&] { return PositiveNll(logp(policy, false).first, mask, positive, scale); },
      "positive nll");
}

// ---- Gradient accumulation ----------------------------------------------------------------

struct TrainRun {
  at::Tensor policy;
  at::Tensor critic;
  std::vector<std::map<std::string, double>> metrics;
};

TrainRun Train(AlgorithmOptions algo, int64_t micro_tokens, int steps) {
  TinyPolicy policy(1);
  TinyCritic critic(2);
  TrainerOptions t = Trainer();
  t.ppo_epochs = 2;
  t.ppo_mini_batch_size = 2;  // prompts: two mini-batches of 2 and 1 groups
  t.max_tokens_per_micro_batch = micro_tokens;
  t.grad_clip = 0.5;
  auto learner = Learner::Create(algo, t, Options(5, 3), &policy, nullptr,
                                 algo.NeedsCritic() ? &critic : nullptr);
  EXPECT_TRUE(learner.ok()) << learner.status();
  TrainRun run;
  for (int s = 0; s < steps; ++s) {
    auto out = (*learner)->Step(Batch(20 + s), s);
    EXPECT_TRUE(out.ok()) << out.status();
    run.metrics.push_back(out->metrics);
  }
  run.policy = policy.Flat();
  run.critic = critic.Flat();
  return run;
}

TEST(LearnerTest, MicroBatchesGiveTheSameUpdateAsOneBatch) {
  for (std::string name : {"grpo", "dr_grpo", "dapo", "ppo", "kimi", "gspo", "rloo"}) {
    for (LossAggMode mode : {LossAggMode::kTokenMean, LossAggMode::kSeqMeanTokenSum,
                             LossAggMode::kSeqMeanTokenMean, LossAggMode::kSeqMeanTokenSumNorm}) {
      AlgorithmOptions a = Algo(name);
      a.loss_agg_mode = mode;
      a.entropy_coeff = 0.01;
      a.positive_nll_coef = name == "ppo" ? 0.1 : 0.0;
      a.mask_truncated = name == "dapo";
      const std::string what = name + " " + LossAggModeName(mode);
      TrainRun whole = Train(a, 1 << 20, 2);
      TrainRun micro = Train(a, 6, 2);  // several micro-batches per mini-batch
      EXPECT_LT((whole.policy - micro.policy).abs().max().item<double>(), 1e-12) << what;
      EXPECT_LT((whole.critic - micro.critic).abs().max().item<double>(), 1e-12) << what;
      EXPECT_GT((whole.policy - TinyPolicy(1).Flat()).abs().max().item<double>(), 1e-4)
          << what << ": the policy did not move";
      for (const char* metric : {"actor/grad_norm", "actor/pg_loss", "actor/entropy"}) {
        EXPECT_NEAR(whole.metrics[1][metric], micro.metrics[1][metric], 1e-12) << what << metric;
      }
    }
  }
}

// ---- Step mechanics ---------------------------------------------------------------------

TEST(LearnerTest, NonFiniteLossSkipsTheStepAndCountsIt) {
  TinyPolicy policy(1);
  auto learner = Learner::Create(Algo("grpo"), Trainer(), {}, &policy, nullptr, nullptr);
  ASSERT_TRUE(learner.ok());
  const at::Tensor before = policy.Flat();
  policy.poison = true;
  auto out = (*learner)->Step(Batch(1), 0);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->metrics["actor/skipped_steps"], 1);
  EXPECT_TRUE(at::equal(policy.Flat(), before)) << "a skipped step must not change weights";
  EXPECT_EQ(out->metrics.count("actor/grad_norm"), 0u);
  policy.poison = false;
  out = (*learner)->Step(Batch(1), 1);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->metrics["actor/skipped_steps"], 1);
  EXPECT_FALSE(at::equal(policy.Flat(), before));
}

TEST(LearnerTest, FullyMaskedBatchesDoNotUpdate) {
  TinyPolicy policy(1);
  AlgorithmOptions a = Algo("dapo");
  a.mask_truncated = true;
  auto learner = Learner::Create(a, Trainer(), {}, &policy, nullptr, nullptr);
  ASSERT_TRUE(learner.ok());
  std::vector<Trajectory> batch = Batch(1);
  for (auto& t : batch) t.truncated = true;
  const at::Tensor before = policy.Flat();
  auto out = (*learner)->Step(batch, 0);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(at::equal(policy.Flat(), before)) << "no loss tokens: no step (no weight decay)";
  EXPECT_EQ(out->metrics["actor/empty_mini_batches"], 1.0);
}

TEST(LearnerTest, KimiResetsTheOptimizerEveryStep) {
  for (bool reset : {true, false}) {
    TinyPolicy policy(1);
    AlgorithmOptions a = Algo("kimi");
    a.reset_optimizer_per_step = reset;
    TrainerOptions t = Trainer();
    t.ppo_epochs = 2;
    auto learner = Learner::Create(a, t, {}, &policy, nullptr, nullptr);
    ASSERT_TRUE(learner.ok());
    ASSERT_TRUE((*learner)->Step(Batch(1), 0).ok());
    ASSERT_TRUE((*learner)->Step(Batch(2), 1).ok());
    auto& state = (*learner)->policy_optimizer().state();
    ASSERT_FALSE(state.empty());
    for (const auto& [key, s] : state) {
      EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*s).step(), reset ? 2 : 4);
    }
  }
}

TEST(LearnerTest, LearningRateScheduleAndCriticWarmup) {
  TinyPolicy policy(1);
  TinyCritic critic(2);
  TrainerOptions t = Trainer();
  t.lr_warmup_steps = 2;
  t.critic_warmup = 1;
  auto learner = Learner::Create(Algo("ppo"), t, {}, &policy, nullptr, &critic);
  ASSERT_TRUE(learner.ok()) << learner.status();
  const at::Tensor before = policy.Flat();
  auto out = (*learner)->Step(Batch(1), 0);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_DOUBLE_EQ(out->metrics["actor/lr"], 0.5e-2);
  EXPECT_TRUE(at::equal(policy.Flat(), before)) << "critic warm-up: the policy waits";
  EXPECT_EQ(out->metrics.count("critic/vf_loss"), 1u);
  out = (*learner)->Step(Batch(1), 1);
  EXPECT_DOUBLE_EQ(out->metrics["actor/lr"], 1e-2);
  EXPECT_FALSE(at::equal(policy.Flat(), before));
}

TEST(LearnerTest, BehaviourLogProbsMismatchAndShaping) {
  TinyPolicy policy(1);
  std::vector<Trajectory> batch = Batch(4);
  for (auto& t : batch) {
    int32_t prev = t.prompt_ids.back();
    for (int32_t tok : t.response_ids) {
      t.behaviour_log_probs.push_back(static_cast<float>(policy.LogProb(prev, tok)) - 0.25f);
      prev = tok;
    }
  }
  int calls = 0;
  LearnerOptions lo;
  lo.group_shaping = [&calls](int64_t step, const std::vector<int64_t>& lengths,
                              const std::vector<bool>& correct, std::vector<double>& scores) {
    ++calls;
    EXPECT_EQ(step, 7);
    EXPECT_EQ(lengths.size(), 4u);
    for (size_t i = 0; i < scores.size(); ++i) {
      EXPECT_EQ(correct[i], scores[i] > 0);
      scores[i] -= 0.01 * static_cast<double>(lengths[i]);
    }
    return absl::OkStatus();
  };
  auto learner = Learner::Create(Algo("grpo"), Trainer(), lo, &policy, nullptr, nullptr);
  auto out = (*learner)->Step(batch, 7);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(calls, 3);
  EXPECT_NEAR(out->metrics["rollout/logp_mismatch/mean"], 0.25, 1e-6);
  EXPECT_NEAR(out->scores[0], batch[0].score - 0.01 * batch[0].response_ids.size(), 1e-12);

  lo.group_shaping = [](int64_t, const std::vector<int64_t>&, const std::vector<bool>&,
                        std::vector<double>&) { return absl::InvalidArgumentError("bad length"); };
  learner = Learner::Create(Algo("grpo"), Trainer(), lo, &policy, nullptr, nullptr);
  out = (*learner)->Step(batch, 0);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("group reward shaping of group 100: bad length"));

  // Without recomputing, the behaviour log-probs are the old policy.
  TrainerOptions t = Trainer();
  t.recompute_logprobs = false;
  TinyPolicy fresh(1);  // the weights the behaviour log-probs were computed from
  learner = Learner::Create(Algo("grpo"), t, {}, &fresh, nullptr, nullptr);
  out = (*learner)->Step(batch, 0);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->metrics.count("rollout/logp_mismatch/mean"), 0u);
  // ppo_kl = mean(old - current) with old = behaviour = current - 0.25 (one update, so the
  // policy has not moved when it is measured).
  EXPECT_NEAR(out->metrics["actor/ppo_kl"], -0.25, 1e-5);
}

// Per-token values of asked-for rows: pi_old and the entropy under the weights before the
// update (one mini-batch, so each row's first forward runs before the optimizer step), the
// advantages and the loss mask; checked against values computed here from the policy.
TEST(LearnerTest, TokenDetailsAreTheValuesTheStepUsed) {
  TinyPolicy policy(5);
  const std::vector<Trajectory> batch = Batch(6);
  std::map<int64_t, std::pair<std::vector<double>, std::vector<double>>> want;  // logp, entropy
  for (int64_t row : {1, 9}) {
    int32_t prev = batch[row].prompt_ids.back();
    for (int32_t tok : batch[row].response_ids) {
      double entropy = 0;
      for (int64_t next = 0; next < kVocab; ++next) {
        const double lp = policy.LogProb(prev, next);
        entropy -= std::exp(lp) * lp;
      }
      want[row].first.push_back(policy.LogProb(prev, tok));
      want[row].second.push_back(entropy);
      prev = tok;
    }
  }
  TrainerOptions trainer = Trainer();
  trainer.ppo_mini_batch_size = 0;  // one mini-batch
  AlgorithmOptions algo = Algo("grpo");
  algo.mask_truncated = true;  // truncated samples are outside the loss mask
  auto learner = Learner::Create(algo, trainer, Options(5, 1), &policy, nullptr, nullptr);
  ASSERT_TRUE(learner.ok()) << learner.status();
  auto out = (*learner)->Step(batch, 0, {9, 1});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->token_details.size(), 2u);
  EXPECT_EQ(out->token_details[0].row, 9);
  EXPECT_EQ(out->token_details[1].row, 1);
  for (const RowTokenDetail& d : out->token_details) {
    const Trajectory& t = batch[d.row];
    const size_t n = t.response_ids.size();
    ASSERT_EQ(d.logprobs.size(), n);
    ASSERT_EQ(d.entropy.size(), n);
    ASSERT_EQ(d.advantages.size(), n);
    ASSERT_EQ(d.loss_mask.size(), n);
    double advantage = 0;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(d.logprobs[i], want[d.row].first[i], 1e-6) << "row " << d.row << " token " << i;
      EXPECT_NEAR(d.entropy[i], want[d.row].second[i], 1e-6) << "row " << d.row << " token " << i;
      EXPECT_GE(d.entropy[i], 0);
      EXPECT_EQ(d.loss_mask[i], algo.mask_truncated && t.truncated ? 0 : 1);
      advantage += d.advantages[i];
    }
    EXPECT_NEAR(advantage / static_cast<double>(n), out->advantages[d.row], 1e-6);
  }
  // None asked: none computed. A row outside the batch is refused.
  EXPECT_TRUE((*learner)->Step(batch, 1)->token_details.empty());
  auto bad = (*learner)->Step(batch, 2, {12});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("token detail row 12 is not in the batch of 12"));
}

TEST(LearnerTest, BadInputsAndMissingModels) {
  TinyPolicy policy(1);
  auto no_ref = Learner::Create(*AlgorithmPreset("grpo"), Trainer(), {}, &policy, nullptr, nullptr);
  ASSERT_FALSE(no_ref.ok());
  EXPECT_THAT(std::string(no_ref.status().message()),
              HasSubstr("has a KL term to a reference policy"));
  auto no_critic = Learner::Create(Algo("ppo"), Trainer(), {}, &policy, nullptr, nullptr);
  ASSERT_FALSE(no_critic.ok());
  EXPECT_THAT(std::string(no_critic.status().message()), HasSubstr("gae needs a critic"));
  AlgorithmOptions norm = Algo("dr_grpo");
  auto no_norm = Learner::Create(norm, Trainer(), {}, &policy, nullptr, nullptr);
  ASSERT_FALSE(no_norm.ok());
  EXPECT_THAT(std::string(no_norm.status().message()),
              HasSubstr("seq-mean-token-sum-norm divides by a constant"));

  TrainerOptions t = Trainer();
  t.recompute_logprobs = false;
  auto learner = Learner::Create(Algo("grpo"), t, {}, &policy, nullptr, nullptr);
  ASSERT_TRUE(learner.ok());
  struct Case {
    std::function<void(std::vector<Trajectory>&)> edit;
    const char* message;
  } cases[] = {
      {[](auto& b) { b.clear(); }, "learner step on an empty batch"},
      {[](auto& b) { b[2].response_ids.clear(); }, "trajectory 2: empty response"},
      {[](auto& b) { b[1].prompt_ids.clear(); }, "trajectory 1: empty prompt"},
      {[](auto& b) { b[3].score = NAN; }, "trajectory 3: score is not finite"},
      {[](auto& b) { b[0].behaviour_log_probs.push_back(-1); }, "behaviour log-probs for"},
      {[](auto& b) { b[0].behaviour_log_probs[0] = 0.5f; }, "is not a log-probability"},
      {[](auto& b) { b[5].behaviour_log_probs.clear(); },
       "trajectory 5: no behaviour log-probs, and trainer.recompute_logprobs is false"},
  };
  for (const Case& c : cases) {
    std::vector<Trajectory> batch = Batch(1);
    for (auto& tr : batch) tr.behaviour_log_probs.assign(tr.response_ids.size(), -1.0f);
    c.edit(batch);
    auto out = (*learner)->Step(batch, 0);
    ASSERT_FALSE(out.ok()) << c.message;
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(c.message));
  }
}

// A policy whose parameter is not a leaf tensor: the optimizer refuses it (in LibTorch).
class NonLeafPolicy : public TinyPolicy {
 public:
  NonLeafPolicy() : TinyPolicy(1) {}
  std::vector<at::Tensor> Parameters() override { return {TinyPolicy::Parameters()[0] * 2}; }
};

TEST(LearnerTest, ErrorsInLibTorchComeBackAsStatusesNamingWhatFailed) {
  NonLeafPolicy non_leaf;
  auto refused = Learner::Create(Algo("grpo"), Trainer(), {}, &non_leaf, nullptr, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("creating the learner failed in LibTorch: can't optimize a non-leaf"));

  TinyPolicy policy(1);
  auto learner = Learner::Create(Algo("grpo"), Trainer(), {}, &policy, nullptr, nullptr);
  ASSERT_TRUE(learner.ok()) << learner.status();
  const at::Tensor before = policy.Flat();
  std::vector<Trajectory> batch = Batch(1);
  batch[4].response_ids.back() = 99;  // outside the policy's vocabulary of 6
  auto out = (*learner)->Step(batch, 2);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(out.status().message(), "policy forward failed: index out of range in self");
  EXPECT_TRUE(at::equal(policy.Flat(), before));

  policy.flat_scores = true;  // caught at the learner's boundary
  out = (*learner)->Step(Batch(1), 2);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("learner step 3 failed in LibTorch: "));
  EXPECT_TRUE(at::equal(policy.Flat(), before));
  policy.flat_scores = false;

  policy.throw_in_score = true;
  out = (*learner)->Step(Batch(1), 0);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "learner step 1 failed: the policy's device went away");
  // The learner goes on once the policy does.
  policy.throw_in_score = false;
  out = (*learner)->Step(Batch(1), 0);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(at::equal(policy.Flat(), before));
}

TEST(LearnerTest, StateRoundTrips) {
  TinyPolicy policy(1);
  auto a = Learner::Create(Algo("grpo"), Trainer(), Options(0, 5), &policy, nullptr, nullptr);
  ASSERT_TRUE((*a)->Step(Batch(1), 0).ok());
  auto b = Learner::Create(Algo("grpo"), Trainer(), Options(0, 9), &policy, nullptr, nullptr);
  ASSERT_TRUE((*b)->LoadState((*a)->SaveState()).ok());
  EXPECT_EQ((*b)->SaveState(), (*a)->SaveState());
  EXPECT_FALSE((*b)->LoadState("{}").ok());
}

// On a fixed batch where responses containing token 3 are rewarded, `a` makes the rewarded
// continuation more likely: catches sign errors in any estimator or loss.
void ExpectMovesTowardsTheReward(const AlgorithmOptions& a, const std::string& name) {
  TinyPolicy policy(1);
  TinyPolicy reference(1);
  TinyCritic critic(2);
  TrainerOptions t = Trainer();
  t.ppo_epochs = 2;
  t.critic_warmup = 0;
  auto learner = Learner::Create(a, t, Options(5, 1), &policy, &reference, &critic);
  ASSERT_TRUE(learner.ok()) << name << ": " << learner.status();
  std::vector<Trajectory> batch;
  for (int g = 0; g < 4; ++g) {
    for (int32_t tok : {3, 4, 0, 3, 5, 1}) {
      Trajectory tr;
      tr.group = g;
      tr.prompt_ids = {2};
      tr.response_ids = {tok};
      tr.score = tok == 3 ? 1.0 : 0.0;
      batch.push_back(tr);
    }
  }
  const double before = policy.LogProb(2, 3);
  for (int s = 0; s < 5; ++s) {
    auto out = (*learner)->Step(batch, s);
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
  }
  EXPECT_GT(policy.LogProb(2, 3), before + 0.05) << name;
}

TEST(LearnerTest, EveryPresetMovesTowardsTheReward) {
  for (const std::string& name : AlgorithmPresetNames()) {
    ExpectMovesTowardsTheReward(*AlgorithmPreset(name), "preset " + name);
  }
}

// Every registered loss (with grpo's advantages) and every registered estimator (with PPO's
// loss), so that a new one is checked as soon as it is registered.
TEST(LearnerTest, EveryLossAndEstimatorMovesTowardsTheReward) {
  for (const std::string& loss : PolicyLosses().Names()) {
    AlgorithmOptions a = *AlgorithmPreset("grpo");
    a.policy_loss = loss;
    ExpectMovesTowardsTheReward(a, "policy_loss " + loss);
  }
  for (const std::string& estimator : AdvantageEstimators().Names()) {
    AlgorithmOptions a = *AlgorithmPreset("grpo");
    a.adv_estimator = estimator;
    ExpectMovesTowardsTheReward(a, "adv_estimator " + estimator);
  }
}

// ---- Rollout corrections ----------------------------------------------------------------

// The batch with the rollout's log-probs set to the policy's minus `shift`: every token's ratio
// pi_old / pi_behaviour is e^shift (up to the float rounding of the stored log-probs).
std::vector<Trajectory> BatchWithBehaviour(TinyPolicy& policy, double shift) {
  std::vector<Trajectory> batch = Batch(4);
  for (auto& t : batch) {
    int32_t prev = t.prompt_ids.back();
    for (int32_t tok : t.response_ids) {
      t.behaviour_log_probs.push_back(static_cast<float>(policy.LogProb(prev, tok) - shift));
      prev = tok;
    }
  }
  return batch;
}

// GRPO with token-mean aggregation (with seq-mean, the first update's pg_loss is the mean of
// group-centred advantages: zero).
AlgorithmOptions TokenMeanGrpo() {
  AlgorithmOptions a = Algo("grpo");
  a.loss_agg_mode = LossAggMode::kTokenMean;
  return a;
}

AlgorithmOptions WithCorrection(const std::string& yaml) {
  AlgorithmOptions a = TokenMeanGrpo();
  auto correction = config::LoadString<RolloutCorrectionOptions>(yaml, "test.yaml");
  EXPECT_TRUE(correction.ok()) << correction.status();
  a.rollout_correction = *correction;
  return a;
}

// One update over the whole batch: pg_loss is measured before the weights move.
double PgLoss(const AlgorithmOptions& a, const std::vector<Trajectory>& batch) {
  TinyPolicy policy(1);
  auto learner = Learner::Create(a, Trainer(), {}, &policy, nullptr, nullptr);
  EXPECT_TRUE(learner.ok()) << learner.status();
  auto out = (*learner)->Step(batch, 0);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? out->metrics["actor/pg_loss"] : NAN;
}

TEST(RolloutCorrectionTest, TisWeightsEveryTokenByTheTruncatedRatio) {
  TinyPolicy policy(1);
  const std::vector<Trajectory> batch = BatchWithBehaviour(policy, 0.25);
  const double plain = PgLoss(TokenMeanGrpo(), batch);
  ASSERT_GT(std::abs(plain), 1e-3);
  const double ratio = std::exp(0.25);
  for (double cap : {2.0, 1.2}) {
    AlgorithmOptions a = WithCorrection(absl::StrCat("{name: tis, options: {cap: ", cap, "}}"));
    TinyPolicy p(1);
    auto learner = Learner::Create(a, Trainer(), {}, &p, nullptr, nullptr);
    ASSERT_TRUE(learner.ok()) << learner.status();
    auto out = (*learner)->Step(batch, 0);
    ASSERT_TRUE(out.ok()) << out.status();
    const double w = std::min(ratio, cap);
    EXPECT_NEAR(out->metrics["rollout_corr/tis_weight/mean"], w, 1e-5) << cap;
    EXPECT_EQ(out->metrics["rollout_corr/tis_capped_frac"], cap < ratio ? 1.0 : 0.0) << cap;
    // The same weight on every token scales the policy-gradient loss.
    EXPECT_NEAR(PgLoss(a, batch), w * plain, 1e-5 * std::abs(plain)) << cap;
  }
  // Without the rollout's log-probs there is nothing to correct against.
  std::vector<Trajectory> missing = batch;
  missing[3].behaviour_log_probs.clear();
  TinyPolicy p(1);
  auto learner =
      Learner::Create(WithCorrection("{name: tis}"), Trainer(), {}, &p, nullptr, nullptr);
  ASSERT_TRUE(learner.ok());
  auto out = (*learner)->Step(missing, 0);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("algorithm.rollout_correction tis needs the rollout's log-probs of every "
                        "sample"));
  // Without recomputed log-probs, pi_old is the rollout's: nothing to correct.
  TrainerOptions t = Trainer();
  t.recompute_logprobs = false;
  auto no_recompute = Learner::Create(WithCorrection("{name: tis}"), t, {}, &p, nullptr, nullptr);
  ASSERT_FALSE(no_recompute.ok());
  EXPECT_THAT(std::string(no_recompute.status().message()),
              HasSubstr("it needs trainer.recompute_logprobs true"));
}

TEST(RolloutCorrectionTest, TokenMaskDropsTokensWhoseRatioLeavesTheBand) {
  TinyPolicy policy(1);
  const double plain = PgLoss(TokenMeanGrpo(), BatchWithBehaviour(policy, 0.25));
  // Ratios e^0.25 = 1.28 and e^-0.25 = 0.78: inside [1/1.5, 1.5], outside [1/1.2, 1.2].
  for (double shift : {0.25, -0.25}) {
    const std::vector<Trajectory> batch = BatchWithBehaviour(policy, shift);
    TinyPolicy kept(1);
    auto learner = Learner::Create(WithCorrection("{name: token_mask, options: {cap: 1.5}}"),
                                   Trainer(), {}, &kept, nullptr, nullptr);
    ASSERT_TRUE(learner.ok()) << learner.status();
    auto out = (*learner)->Step(batch, 0);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->metrics["rollout_corr/masked_frac"], 0.0) << shift;
    if (shift > 0) EXPECT_DOUBLE_EQ(out->metrics["actor/pg_loss"], plain);  // as uncorrected

    TinyPolicy dropped(1);
    const at::Tensor before = dropped.Flat();
    learner = Learner::Create(WithCorrection("{name: token_mask, options: {cap: 1.2}}"), Trainer(),
                              {}, &dropped, nullptr, nullptr);
    ASSERT_TRUE(learner.ok()) << learner.status();
    out = (*learner)->Step(batch, 0);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->metrics["rollout_corr/masked_frac"], 1.0) << shift;
    EXPECT_EQ(out->metrics["actor/empty_mini_batches"], 1.0) << shift;
    EXPECT_TRUE(at::equal(dropped.Flat(), before)) << "every token dropped: no update";
  }
}

// ---- The adapter over model::Decoder --------------------------------------------------

model::ModelConfig TinyDecoderConfig() {
  model::ModelConfig c;
  c.model_type = "qwen2";
  c.qkv_bias = true;
  c.vocab_size = 16;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  return c;
}

std::vector<Trajectory> DecoderBatch() {
  std::vector<Trajectory> batch;
  std::mt19937_64 rng(5);
  for (int g = 0; g < 2; ++g) {
    for (int k = 0; k < 4; ++k) {
      Trajectory t;
      t.group = g;
      t.prompt_ids = {1, static_cast<int32_t>(3 + g), 7};
      const int len = 2 + static_cast<int>(rng() % 6);
      for (int j = 0; j < len; ++j) t.response_ids.push_back(static_cast<int32_t>(rng() % 16));
      t.score = t.response_ids[0] % 2 == 0 ? 1.0 : 0.0;
      batch.push_back(t);
    }
  }
  return batch;
}

TEST(DecoderPolicyTest, ScoresMatchTheFullSoftmax) {
  torch::manual_seed(0);
  model::Decoder decoder(TinyDecoderConfig());
  DecoderPolicy policy(decoder, /*chunk_tokens=*/5);
  at::Tensor tokens = at::randint(0, 16, {3, 9}, at::kLong);
  at::Tensor mask = at::ones({3, 9}, at::kLong);
  mask[2].slice(0, 6).fill_(0);  // right padding
  at::Tensor targets = at::cat({tokens.slice(1, 1), at::full({3, 1}, -1, at::kLong)}, 1);
  targets[2].slice(0, 5).fill_(-1);
  auto scores = policy.Score(tokens, mask, targets, true);
  ASSERT_TRUE(scores.ok()) << scores.status();
  model::BatchLayout layout;
  layout.attention_mask = mask;
  at::NoGradGuard no_grad;
  at::Tensor logp_all = at::log_softmax(decoder->Logits(*decoder->Hidden(tokens, layout)), -1);
  at::Tensor expect = logp_all.gather(2, targets.clamp_min(0).unsqueeze(2)).squeeze(2);
  at::Tensor entropy = -(logp_all.exp() * logp_all).sum(-1);
  at::Tensor valid = targets >= 0;
  EXPECT_LT((scores->log_probs - expect).masked_select(valid).abs().max().item<double>(), 1e-5);
  EXPECT_LT((scores->entropy - entropy).masked_select(valid).abs().max().item<double>(), 1e-5);
}

// Samples of one prompt run it once (model::SharedPromptBatch); the scores and the gradients
// are those of each row on its own.
TEST(DecoderPolicyTest, SamplesOfOnePromptShareItExactly) {
  for (bool qk_norm : {false, true}) {
    SCOPED_TRACE(qk_norm ? "qk_norm" : "qkv_bias");
    model::ModelConfig config = TinyDecoderConfig();
    config.qk_norm = qk_norm;
    torch::manual_seed(2);
    model::Decoder decoder(config);
    // Rows: two prompts with three and two samples of different lengths, a prompt of its own,
    // a row with nothing to score, and a sample whose first response token is not scored (so
    // its shared part is longer); right-padded.
    std::vector<std::vector<int64_t>> prompts = {{1, 5, 7}, {2, 9, 4, 4, 3}, {6}};
    struct RowSpec {
      int prompt;
      std::vector<int64_t> response;
      int skip = 0;  // unscored response tokens at the start
    };
    std::vector<RowSpec> specs = {
        {0, {3, 3, 8, 1, 0, 2}},          {1, {7}},           {0, {9, 2}},       {2, {5, 5, 5, 1}},
        {1, {7, 10, 11, 12, 13, 14, 15}}, {0, {3, 12, 1}, 1}, {0, {4, 4, 4, 4}}, {1, {}}};
    const int64_t B = specs.size(), L = 13;
    at::Tensor tokens = at::zeros({B, L}, at::kLong), mask = at::zeros({B, L}, at::kLong);
    at::Tensor targets = at::full({B, L}, -1, at::kLong);
    for (int64_t b = 0; b < B; ++b) {
      std::vector<int64_t> row = prompts[specs[b].prompt];
      const int64_t p = row.size();
      row.insert(row.end(), specs[b].response.begin(), specs[b].response.end());
      for (int64_t j = 0; j < static_cast<int64_t>(row.size()); ++j) {
        tokens[b][j] = row[j];
        mask[b][j] = 1;
        if (j + 1 < static_cast<int64_t>(row.size()) && j + 1 >= p + specs[b].skip) {
          targets[b][j] = row[j + 1];
        }
      }
    }
    at::Tensor weights = at::rand({B, L});
    std::map<bool, TokenScores> scores;
    std::map<bool, std::vector<at::Tensor>> grads;
    for (bool share : {false, true}) {
      DecoderPolicy policy(decoder, /*chunk_tokens=*/4);
      policy.set_share_prompts(share);
      for (auto& p : policy.Parameters()) p.mutable_grad() = at::Tensor();
      absl::StatusOr<TokenScores> s = policy.Score(tokens, mask, targets, true);
      ASSERT_TRUE(s.ok()) << s.status();
      ((s->log_probs * weights).sum() + s->entropy.sum()).backward();
      for (auto& p : policy.Parameters()) grads[share].push_back(p.grad().clone());
      scores[share] = *s;
    }
    at::Tensor scored = targets >= 0;
    EXPECT_LT((scores[true].log_probs - scores[false].log_probs).abs().max().item<double>(), 1e-5);
    EXPECT_LT((scores[true].entropy - scores[false].entropy).abs().max().item<double>(), 1e-5);
    EXPECT_EQ(scores[true].log_probs.masked_select(scored.logical_not()).abs().sum().item<double>(),
              0.0);
    ASSERT_EQ(grads[true].size(), grads[false].size());
    for (size_t i = 0; i < grads[true].size(); ++i) {
      const double scale = grads[false][i].abs().max().item<double>() + 1e-12;
      EXPECT_LT((grads[true][i] - grads[false][i]).abs().max().item<double>(), 1e-5 * scale)
          << "parameter " << i;
    }
  }
}

TEST(DecoderPolicyTest, BadInputsNameTheTokensWhetherOrNotPromptsAreShared) {
  model::Decoder decoder(TinyDecoderConfig());
  // Two rows with one prompt: shareable when well-formed.
  at::Tensor tokens = at::tensor({1, 5, 7, 3, 1, 5, 7, 9}, at::kLong).view({2, 4});
  at::Tensor targets = at::tensor({-1, -1, 3, -1, -1, -1, 9, -1}, at::kLong).view({2, 4});
  at::Tensor mask = at::ones({2, 4}, at::kLong);
  at::Tensor outside = tokens.clone();
  outside[1][3] = 99;
  for (bool share : {false, true}) {
    DecoderPolicy policy(decoder);
    policy.set_share_prompts(share);
    ASSERT_TRUE(policy.Score(tokens, mask, targets, true).ok());
    EXPECT_THAT(policy.Score(tokens.to(at::kFloat), mask, targets, true).status().message(),
                HasSubstr("input_ids must be an integer tensor"));
    EXPECT_THAT(policy.Score(tokens.view({8}), mask, targets.view({8}), true).status().message(),
                HasSubstr("input_ids must be a [batch, tokens] tensor"));
    EXPECT_THAT(policy.Score(outside, mask, targets, true).status().message(),
                HasSubstr("input_ids holds id 99, outside the vocabulary [0, 16)"));
  }
}

TEST(DecoderModelTest, SharedPromptBatchesAreChecked) {
  model::Decoder decoder(TinyDecoderConfig());
  model::SharedPromptBatch batch{.prompt_ids = at::ones({2, 3}, at::kLong),
                                 .prompt_mask = at::ones({2, 3}, at::kLong),
                                 .response_ids = at::ones({3, 2}, at::kLong),
                                 .response_mask = at::ones({3, 2}, at::kLong),
                                 .response_prompt = at::tensor({0, 1, 2}, at::kLong)};
  absl::StatusOr<at::Tensor> hidden = decoder->HiddenSharedPrompts(batch);
  EXPECT_THAT(hidden.status().message(), HasSubstr("response_prompt must name prompt rows 0..1"));
  batch.response_prompt = at::tensor({0, 1}, at::kLong);
  EXPECT_THAT(decoder->HiddenSharedPrompts(batch).status().message(),
              HasSubstr("response_prompt must be [3]"));
  batch.response_prompt = at::tensor({0, 1, 1}, at::kLong);
  batch.prompt_mask[1].fill_(0);
  EXPECT_THAT(decoder->HiddenSharedPrompts(batch).status().message(),
              HasSubstr("every prompt needs a real token"));
  batch.prompt_mask = at::ones({2, 4}, at::kLong);
  EXPECT_THAT(decoder->HiddenSharedPrompts(batch).status().message(),
              HasSubstr("prompt_mask must be [2, 3]"));
  batch.prompt_mask = at::ones({2, 3}, at::kLong);
  batch.response_ids[0][0] = 99;
  EXPECT_FALSE(decoder->HiddenSharedPrompts(batch).ok());
  batch.response_ids[0][0] = 1;
  hidden = decoder->HiddenSharedPrompts(batch);
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  EXPECT_EQ(hidden->sizes(), (std::vector<int64_t>{2 * 3 + 3 * 2, 32}));
}

TEST(DecoderPolicyTest, LearnerStepsWithAReferenceAndACritic) {
  torch::manual_seed(1);
  model::Decoder decoder(TinyDecoderConfig());
  model::Decoder reference = model::CloneDecoder(decoder, /*frozen=*/true);
  model::DecoderOptions with_head;
  with_head.value_head = true;
  model::Decoder critic_decoder(TinyDecoderConfig(), with_head);
  DecoderPolicy actor(decoder), ref(reference);
  DecoderCritic critic(critic_decoder);
  for (std::string name : {"grpo", "ppo", "kimi"}) {
    AlgorithmOptions a = *AlgorithmPreset(name);
    a.use_kl_loss = name != "kimi";
    TrainerOptions t = Trainer();
    t.lr = 1e-3;
    t.ppo_epochs = 2;
    t.max_tokens_per_micro_batch = 24;
    auto learner = Learner::Create(a, t, {}, &actor, &ref, &critic);
    ASSERT_TRUE(learner.ok()) << name << ": " << learner.status();
    at::Tensor before = decoder->parameters()[0].detach().clone();
    auto out = (*learner)->Step(DecoderBatch(), 0);
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_FALSE(at::equal(before, decoder->parameters()[0])) << name;
    EXPECT_EQ(out->metrics["actor/skipped_steps"], 0) << name;
    for (const auto& [k, v] : out->metrics) EXPECT_TRUE(std::isfinite(v)) << name << " " << k;
    if (name == "grpo") {
      EXPECT_EQ(out->metrics["kl_ref/mean"], 0.0) << "measured before the first update";
      out = (*learner)->Step(DecoderBatch(), 1);
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_GT(out->metrics["kl_ref/mean"], 0.0) << "the policy moved away from the reference";
    }
    if (name == "ppo") {
      EXPECT_EQ(out->metrics.count("critic/vf_loss"), 1u);
    }
  }
  for (const auto& p : reference->parameters()) EXPECT_FALSE(p.requires_grad());
}

}  // namespace
}  // namespace ponder::trainer
