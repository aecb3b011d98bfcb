// Advantage estimators, losses and aggregation modes against independently computed values:
// small cases worked out by hand, and random ragged batches from the reference script
// tests/trainer/reference/rl_reference.py (Python loops over float64 torch scalars, written
// from the formulas; the test runs it, so the values are recomputed on every run). Losses are
// evaluated here in three micro-batches normalised by the whole batch's counts, so matching
// the reference's whole-batch value and gradient also shows that gradient accumulation over
// micro-batches is exact.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/config.h"
#include "tests/testing.h"
#include "trainer/advantage_estimator.h"
#include "trainer/algorithms/cispo_loss.h"
#include "trainer/algorithms/gspo_loss.h"
#include "trainer/algorithms/kimi_loss.h"
#include "trainer/algorithms/ppo_clip_loss.h"
#include "trainer/losses.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {
namespace {

using ::testing::HasSubstr;

constexpr double kTol = 1e-9;  // float64 throughout; the requirement is 1e-6

at::Tensor Tensor(const nlohmann::json& j) {
  if (j.is_array() && !j.empty() && j[0].is_array()) {
    std::vector<at::Tensor> rows;
    for (const auto& row : j)
      rows.push_back(at::tensor(row.get<std::vector<double>>(), at::kDouble));
    return at::stack(rows);
  }
  if (j.is_array() && !j.empty() && j[0].is_boolean()) {
    std::vector<double> v;
    for (const auto& x : j) v.push_back(x.get<bool>() ? 1.0 : 0.0);
    return at::tensor(v, at::kDouble);
  }
  return at::tensor(j.get<std::vector<double>>(), at::kDouble);
}

void ExpectClose(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.sizes().equals(want.sizes()))
      << what << ": " << got.sizes() << " vs " << want.sizes();
  const double err = (got.to(at::kDouble) - want).abs().max().item<double>();
  const double scale = std::max(1.0, want.abs().max().item<double>());
  EXPECT_LE(err, kTol * scale) << what << "\ngot\n" << got << "\nwant\n" << want;
}

void ExpectClose(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, kTol * std::max(1.0, std::abs(want))) << what;
}

class ReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char path[] = "/tmp/ponder_rl_reference_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    testing::CommandResult r = testing::RunCommand(
        "/usr/bin/python3 " + testing::SourcePath("tests/trainer/reference/rl_reference.py") + " " +
        path);
    ASSERT_EQ(r.exit_code, 0) << "reference script failed:\n" << r.err;
    data_ = std::make_unique<nlohmann::json>(nlohmann::json::parse(testing::ReadFile(path)));
    std::remove(path);
  }
  static const nlohmann::json& Batches() { return (*data_)["batches"]; }
  static std::unique_ptr<nlohmann::json> data_;
};
std::unique_ptr<nlohmann::json> ReferenceTest::data_;

// Rows of the batch in three micro-batches of unequal sizes.
std::vector<at::Tensor> MicroRows(int64_t B) {
  std::vector<std::vector<int64_t>> parts = {{}, {}, {}};
  for (int64_t i = 0; i < B; ++i) parts[i < 3 ? 0 : i < 5 ? 1 : 2].push_back(i);
  std::vector<at::Tensor> out;
  for (const auto& p : parts) {
    if (!p.empty()) out.push_back(at::tensor(p, at::kLong));
  }
  return out;
}

TEST_F(ReferenceTest, AdvantageEstimators) {
  int checked = 0;
  for (const auto& b : Batches()) {
    AdvantageInput in;
    in.scores = Tensor(b["scores"]);
    in.mask = Tensor(b["mask"]);
    in.values = Tensor(b["values"]);
    in.group_ids = b["group_ids"].get<std::vector<int64_t>>();
    for (const auto& c : b["adv_cases"]) {
      const std::string kind = c["kind"], name = c["name"];
      const nlohmann::json& o = c["options"];
      std::vector<std::string> estimators;
      AlgorithmOptions a;
      a.gamma = o.value("gamma", 1.0);
      a.lam = o.value("lam", 1.0);
      a.lam_critic = o.value("lam_critic", 1.0);
      a.lam_length_alpha = o.value("alpha", 0.0);
      a.whiten_advantages = o.value("whiten", true);
      if (kind == "gae") estimators = {"gae"};
      if (kind == "mean_std") estimators = {"grpo"};
      if (kind == "mean") {  // Dr. GRPO and Kimi's baseline are the same formula
        estimators = {"grpo", "kimi"};
        a.norm_adv_by_std_in_grpo = false;
      }
      if (kind == "rloo") estimators = {"rloo"};
      if (kind == "reinforce_pp") estimators = {"reinforce_pp"};
      if (kind == "reinforce_pp_baseline") estimators = {"reinforce_pp_baseline"};
      ASSERT_FALSE(estimators.empty()) << kind;
      AdvantageInput input = in;
      if (o.value("token_rewards", false)) input.token_rewards = Tensor(b["token_rewards"]);
      for (const std::string& e : estimators) {
        a.adv_estimator = e;
        auto adv = ComputeAdvantages(a, input);
        ASSERT_TRUE(adv.ok()) << name << ": " << adv.status();
        ExpectClose(adv->advantages, Tensor(c["advantages"]), name + " advantages");
        ExpectClose(adv->returns, Tensor(c["returns"]), name + " returns");
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 30);
}

TEST_F(ReferenceTest, LossesAndGradientsAcrossMicroBatches) {
  int checked = 0;
  for (const auto& b : Batches()) {
    const at::Tensor mask = Tensor(b["mask"]);
    const at::Tensor old = Tensor(b["old_log_probs"]);
    const at::Tensor ref = Tensor(b["ref_log_probs"]);
    const at::Tensor positive = Tensor(b["positive"]);
    const LossScale scale = LossScale::Of(mask, b["norm"].get<double>(), positive);
    const int64_t B = mask.size(0);
    for (const auto& c : b["loss_cases"]) {
      const std::string kind = c["kind"];
      const std::string mode_name = c.value("mode", "token-mean");
      LossAggMode mode = LossAggMode::kTokenMean;
      for (LossAggMode m : {LossAggMode::kTokenMean, LossAggMode::kSeqMeanTokenSum,
                            LossAggMode::kSeqMeanTokenMean, LossAggMode::kSeqMeanTokenSumNorm}) {
        if (mode_name == LossAggModeName(m)) mode = m;
      }
      const std::string what = kind + " " + mode_name + " " + c.dump().substr(0, 80);
      at::Tensor adv = kind == "kimi" ? Tensor(b["seq_advantages"]).unsqueeze(1) * mask
                                      : Tensor(b["advantages"]);
      at::Tensor lp = Tensor(b["log_probs"]).requires_grad_(true);
      double value = 0, clipfrac = 0, clipfrac_lower = 0;
      for (const at::Tensor& rows : MicroRows(B)) {
        PolicyLossInput in{lp.index_select(0, rows), old.index_select(0, rows),
                           adv.index_select(0, rows), mask.index_select(0, rows), at::Tensor()};
        at::Tensor loss;
        if (kind == "ppo") {
          PolicyLossValue pl = PpoClipLoss(c["lo"], c["hi"], c["c"], mode).Compute(in, scale);
          loss = pl.loss;
          clipfrac += pl.clipfrac;
          clipfrac_lower += pl.clipfrac_lower.value_or(0.0);
        } else if (kind == "gspo") {
          PolicyLossValue pl = GspoLoss(c["lo"], c["hi"], mode).Compute(in, scale);
          loss = pl.loss;
          clipfrac += pl.clipfrac;
        } else if (kind == "cispo") {
          PolicyLossValue pl = CispoLoss(c["lo"], c["hi"], mode).Compute(in, scale);
          loss = pl.loss;
          clipfrac += pl.clipfrac;
        } else if (kind == "kimi") {
          loss = KimiLoss(c["tau"]).Compute(in, scale).loss;
        } else if (kind == "nll") {
          loss = PositiveNll(in.log_probs, in.mask, positive.index_select(0, rows), scale);
        } else {
          KlEstimator e = kind == "kl_k1"   ? KlEstimator::kK1
                          : kind == "kl_k2" ? KlEstimator::kK2
                          : kind == "kl_k3" ? KlEstimator::kK3
                                            : KlEstimator::kAbs;
          loss = AggregateLoss(KlPenalty(in.log_probs, ref.index_select(0, rows), e), in.mask, mode,
                               scale);
        }
        value += loss.item<double>();
        loss.backward();
      }
      ExpectClose(value, c["value"], what + " value");
      ExpectClose(lp.grad(), Tensor(c["grad"]), what + " gradient");
      ExpectClose(clipfrac, c["clipfrac"], what + " clipfrac");
      ExpectClose(clipfrac_lower, c["clipfrac_lower"], what + " clipfrac_lower");
      ++checked;
    }
    for (const auto& c : b["value_cases"]) {
      LossAggMode mode = LossAggMode::kTokenMean;
      for (LossAggMode m : {LossAggMode::kTokenMean, LossAggMode::kSeqMeanTokenSum,
                            LossAggMode::kSeqMeanTokenMean, LossAggMode::kSeqMeanTokenSumNorm}) {
        if (c["mode"] == LossAggModeName(m)) mode = m;
      }
      at::Tensor v = Tensor(b["values"]).requires_grad_(true);
      const at::Tensor old_v = Tensor(b["old_values"]), ret = Tensor(b["returns"]);
      double value = 0, clipfrac = 0;
      for (const at::Tensor& rows : MicroRows(B)) {
        ValueLoss vl = ClippedValueLoss(v.index_select(0, rows), old_v.index_select(0, rows),
                                        ret.index_select(0, rows), mask.index_select(0, rows),
                                        c["cliprange"], mode, scale);
        value += vl.loss.item<double>();
        clipfrac += vl.clipfrac;
        vl.loss.backward();
      }
      const std::string what = "value loss " + c.dump().substr(0, 60);
      ExpectClose(value, c["value"], what);
      ExpectClose(v.grad(), Tensor(c["grad"]), what + " gradient");
      ExpectClose(clipfrac, c["clipfrac"], what + " clipfrac");
      ++checked;
    }
  }
  EXPECT_GE(checked, 100);
}

LossAggMode ModeNamed(const std::string& name) {
  for (LossAggMode m : {LossAggMode::kTokenMean, LossAggMode::kSeqMeanTokenSum,
                        LossAggMode::kSeqMeanTokenMean, LossAggMode::kSeqMeanTokenSumNorm}) {
    if (name == LossAggModeName(m)) return m;
  }
  ADD_FAILURE() << "no loss_agg_mode " << name;
  return LossAggMode::kTokenMean;
}

// Each rollout correction of the reference, built by name through the registry from its
// options as a job file gives them: its weights, mask and metrics, and PPO's loss and
// gradient (in micro-batches) with the weights applied over the tokens it keeps.
TEST_F(ReferenceTest, RolloutCorrections) {
  int checked = 0;
  for (const auto& b : Batches()) {
    const at::Tensor mask = Tensor(b["mask"]), old = Tensor(b["old_log_probs"]);
    const at::Tensor behaviour = Tensor(b["behaviour_log_probs"]), adv = Tensor(b["advantages"]);
    for (const auto& c : b["correction_cases"]) {
      const std::string what = c.dump().substr(0, 60);
      auto options = config::LoadString<RolloutCorrectionOptions>(
          absl::StrCat("{name: ", c["name"].get<std::string>(),
                       ", options: {cap: ", c["cap"].get<double>(), "}}"),
          "case.yaml");
      ASSERT_TRUE(options.ok()) << options.status();
      auto correction = RolloutCorrections().Create(options->name, options->options);
      ASSERT_TRUE(correction.ok()) << correction.status();
      const RolloutCorrectionOutput out = (*correction)->Apply({old, behaviour, mask});
      const at::Tensor weights = out.weights.defined() ? out.weights : at::ones_like(mask);
      ExpectClose(weights * mask, Tensor(c["weights"]) * mask, what + " weights");
      ExpectClose(out.mask, Tensor(c["mask"]), what + " mask");
      EXPECT_EQ(out.metrics.size(), c["metrics"].size()) << what;
      for (const auto& [name, value] : c["metrics"].items()) {
        ASSERT_EQ(out.metrics.count(name), 1u) << what << " has no metric " << name;
        ExpectClose(out.metrics.at(name), value.get<double>(), what + " " + name);
      }
      const LossScale scale = LossScale::Of(out.mask, b["norm"].get<double>());
      at::Tensor lp = Tensor(b["log_probs"]).requires_grad_(true);
      double value = 0;
      for (const at::Tensor& rows : MicroRows(mask.size(0))) {
        PolicyLossInput in{
            lp.index_select(0, rows), old.index_select(0, rows), adv.index_select(0, rows),
            out.mask.index_select(0, rows),
            out.weights.defined() ? out.weights.index_select(0, rows) : at::Tensor()};
        at::Tensor loss = PpoClipLoss(0.2, 0.28, 3.0, ModeNamed(c["mode"])).Compute(in, scale).loss;
        value += loss.item<double>();
        loss.backward();
      }
      ExpectClose(value, c["value"], what + " value");
      ExpectClose(lp.grad(), Tensor(c["grad"]), what + " gradient");
      ++checked;
    }
  }
  EXPECT_GE(checked, 6);
}

// ---- Cases worked out by hand -------------------------------------------------------------

at::Tensor T2(std::vector<std::vector<double>> rows) {
  std::vector<at::Tensor> r;
  for (auto& row : rows) r.push_back(at::tensor(row, at::kDouble));
  return at::stack(r);
}

TEST(HandCaseTest, AggregationModes) {
  // loss [[1,2,3],[4,.,.]]: 4 tokens, 2 samples; token sums 6 and 4, token means 2 and 4.
  at::Tensor loss = T2({{1, 2, 3}, {4, 9, 9}});
  at::Tensor mask = T2({{1, 1, 1}, {1, 0, 0}});
  LossScale s = LossScale::Of(mask, 4.0);
  EXPECT_EQ(s.tokens, 4);
  EXPECT_EQ(s.sequences, 2);
  EXPECT_DOUBLE_EQ(AggregateLoss(loss, mask, LossAggMode::kTokenMean, s).item<double>(), 2.5);
  EXPECT_DOUBLE_EQ(AggregateLoss(loss, mask, LossAggMode::kSeqMeanTokenSum, s).item<double>(), 5);
  EXPECT_DOUBLE_EQ(AggregateLoss(loss, mask, LossAggMode::kSeqMeanTokenMean, s).item<double>(), 3);
  EXPECT_DOUBLE_EQ(AggregateLoss(loss, mask, LossAggMode::kSeqMeanTokenSumNorm, s).item<double>(),
                   1.25);
}

TEST(HandCaseTest, GroupBaselines) {
  at::Tensor scores = at::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 5.0}, at::kDouble);
  std::vector<int64_t> groups = {1, 1, 1, 1, 2, 2, 2, 3};
  // Group 1: mean 0.5, unbiased std sqrt(1/3); group 2: mean 1/3; group 3: one sample -> 0.
  auto grpo = *GroupAdvantages(scores, groups, GroupBaseline::kMeanStd);
  EXPECT_NEAR(grpo[0].item<double>(), 0.5 / (std::sqrt(1.0 / 3) + 1e-6), 1e-12);
  EXPECT_NEAR(grpo[1].item<double>(), -0.5 / (std::sqrt(1.0 / 3) + 1e-6), 1e-12);
  EXPECT_EQ(grpo[7].item<double>(), 0.0);
  auto mean = *GroupAdvantages(scores, groups, GroupBaseline::kMean);
  EXPECT_NEAR(mean[4].item<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(mean[5].item<double>(), -1.0 / 3, 1e-12);
  // RLOO on group 2: 1 - (0+0)/2 = 1, 0 - (1+0)/2 = -0.5.
  auto rloo = GroupAdvantages(scores.slice(0, 4, 7), {2, 2, 2}, GroupBaseline::kLeaveOneOut);
  ASSERT_TRUE(rloo.ok());
  EXPECT_NEAR((*rloo)[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR((*rloo)[1].item<double>(), -0.5, 1e-12);
  auto lonely = GroupAdvantages(scores, groups, GroupBaseline::kLeaveOneOut);
  ASSERT_FALSE(lonely.ok());
  EXPECT_THAT(std::string(lonely.status().message()),
              HasSubstr("rloo needs at least 2 samples per prompt; group 3 has 1"));
}

TEST(HandCaseTest, GaeTwoTokens) {
  // Score 1 at the last token; V = [0.5, 0.8]; gamma 1, lam 0.5:
  // delta_1 = 1 - 0.8 = 0.2, A_1 = 0.2; delta_0 = 0.8 - 0.5 = 0.3, A_0 = 0.3 + 0.5 * 0.2 = 0.4.
  // With lam_critic 1 the targets are the Monte-Carlo return 1 at both tokens.
  AlgorithmOptions a;
  a.adv_estimator = "gae";
  a.lam = 0.5;
  a.lam_critic = 1.0;
  a.whiten_advantages = false;
  AdvantageInput in;
  in.scores = at::tensor({1.0}, at::kDouble);
  in.mask = T2({{1, 1, 0}});
  in.values = T2({{0.5, 0.8, 7.0}});
  in.group_ids = {0};
  auto out = ComputeAdvantages(a, in);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectClose(out->advantages, T2({{0.4, 0.2, 0}}), "gae");
  ExpectClose(out->returns, T2({{1, 1, 0}}), "returns");
  // VAPO: length 2, alpha 1 -> lam = 1 - 1/2 = 0.5, the same advantages.
  a.lam = 0.9;
  a.lam_length_alpha = 1.0;
  out = ComputeAdvantages(a, in);
  ExpectClose(out->advantages, T2({{0.4, 0.2, 0}}), "length-adaptive gae");
  in.values = at::Tensor();
  EXPECT_FALSE(ComputeAdvantages(a, in).ok());
}

TEST(HandCaseTest, PpoClipDualClipKimiAndKl) {
  // Token 0: A = 1, ratio e^0.5 = 1.6487 -> clipped at 1.2: loss -1.2.
  // Token 1: A = -1, ratio 4 -> -A*ratio = 4, clip gives 1.2, max 4, dual clip c = 3 -> 3.
  at::Tensor old = T2({{0.0, 0.0}});
  at::Tensor lp = T2({{0.5, std::log(4.0)}});
  at::Tensor adv = T2({{1.0, -1.0}});
  at::Tensor mask = T2({{1, 1}});
  LossScale s = LossScale::Of(mask, 1.0);
  const PolicyLossInput in{lp, old, adv, mask, at::Tensor()};
  PolicyLossValue pl = PpoClipLoss(0.2, 0.2, 3.0, LossAggMode::kSeqMeanTokenSum).Compute(in, s);
  EXPECT_NEAR(pl.loss.item<double>(), -1.2 + 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(pl.clipfrac, 0.5);         // token 0 (token 1's max is the unclipped term)
  EXPECT_DOUBLE_EQ(*pl.clipfrac_lower, 0.5);  // token 1
  pl = PpoClipLoss(0.2, 0.2, 0.0, LossAggMode::kSeqMeanTokenSum).Compute(in, s);
  EXPECT_FALSE(pl.clipfrac_lower.has_value());  // no dual clip
  EXPECT_NEAR(pl.loss.item<double>(), -1.2 + 4.0, 1e-12);

  // Kimi: logp [-1, -2], pi_ref [-1.5, -1], A = 0.5, tau = 0.1:
  // -(0.5)(-3) + 0.05 * (-3 + 2.5)^2 = 1.5 + 0.0125.
  PolicyLossValue k =
      KimiLoss(0.1).Compute({T2({{-1, -2}}), T2({{-1.5, -1}}), T2({{0.5, 0.5}}), mask, {}}, s);
  EXPECT_NEAR(k.loss.item<double>(), 1.5125, 1e-12);

  // KL with pi = 1/2, pi_ref = 1 (log r = log 2): k1 = -log 2, k2 = (log 2)^2 / 2,
  // k3 = 2 - 1 - log 2.
  at::Tensor p = T2({{std::log(0.5)}}), r = T2({{0.0}});
  EXPECT_NEAR(KlPenalty(p, r, KlEstimator::kK1).item<double>(), -std::log(2.0), 1e-12);
  EXPECT_NEAR(KlPenalty(p, r, KlEstimator::kK2).item<double>(), 0.5 * std::pow(std::log(2.0), 2),
              1e-12);
  EXPECT_NEAR(KlPenalty(p, r, KlEstimator::kK3).item<double>(), 1 - std::log(2.0), 1e-12);
  EXPECT_NEAR(KlPenalty(p, r, KlEstimator::kAbs).item<double>(), std::log(2.0), 1e-12);
}

TEST(HandCaseTest, CispoKeepsTheGradientOfClippedTokens) {
  // eps 0.2 / 0.2, one sequence (seq-mean-token-sum: the sum over its tokens), pi_old = 1:
  //   token 0: A = 1,  ratio e^0.5 -> weight 1.2: loss -1.2 * 0.5,      gradient -1.2
  //   token 1: A = -1, ratio 4     -> weight 1.2: loss 1.2 * log 4,     gradient 1.2
  //   token 2: A = 2,  ratio 1/2   -> weight 0.8: loss -1.6 * log(1/2), gradient -1.6
  //   token 3: A = 1,  ratio e^0.1 (inside):     loss -e^0.1 * 0.1,    gradient -e^0.1
  at::Tensor lp = T2({{0.5, std::log(4.0), std::log(0.5), 0.1}}).requires_grad_(true);
  at::Tensor old = T2({{0, 0, 0, 0}}), adv = T2({{1, -1, 2, 1}}), mask = T2({{1, 1, 1, 1}});
  LossScale s = LossScale::Of(mask, 1.0);
  PolicyLossValue pl = CispoLoss(0.2, 0.2, LossAggMode::kSeqMeanTokenSum)
                           .Compute({lp, old, adv, mask, at::Tensor()}, s);
  const double e = std::exp(0.1);
  EXPECT_NEAR(pl.loss.item<double>(), -0.6 + 4 * std::log(2.0) - 0.1 * e, 1e-12);
  EXPECT_DOUBLE_EQ(pl.clipfrac, 0.75);
  pl.loss.backward();
  ExpectClose(lp.grad(), T2({{-1.2, 1.2, -1.6, -e}}), "cispo gradient");
  // PPO's clip leaves token 0 (A > 0 above 1 + eps) without a gradient.
  at::Tensor lp2 = lp.detach().clone().requires_grad_(true);
  PpoClipLoss(0.2, 0.2, 0.0, LossAggMode::kSeqMeanTokenSum)
      .Compute({lp2, old, adv, mask, at::Tensor()}, s)
      .loss.backward();
  EXPECT_EQ(lp2.grad()[0][0].item<double>(), 0.0);
}

TEST(HandCaseTest, ValueClipping) {
  // V_old 0, V 1, R 2, eps 0.5: clipped V 0.5; max((1-2)^2, (0.5-2)^2) = 2.25 -> 0.5 * 2.25.
  at::Tensor mask = T2({{1}});
  ValueLoss vl = ClippedValueLoss(T2({{1}}), T2({{0}}), T2({{2}}), mask, 0.5,
                                  LossAggMode::kTokenMean, LossScale::Of(mask, 1));
  EXPECT_NEAR(vl.loss.item<double>(), 1.125, 1e-12);
  EXPECT_DOUBLE_EQ(vl.clipfrac, 1.0);
}

TEST(HandCaseTest, GroupEstimatorsAddTokenRewardsToTheScore) {
  AlgorithmOptions a;
  a.adv_estimator = "kimi";
  AdvantageInput in;
  in.scores = at::tensor({1.0, 0.0}, at::kDouble);
  in.mask = T2({{1, 1}, {1, 0}});
  in.token_rewards = T2({{-0.1, -0.2}, {-0.3, -5}});  // -5 is outside the mask
  in.group_ids = {4, 4};
  // Effective scores 0.7 and -0.3: mean 0.2 -> 0.5 and -0.5.
  auto out = ComputeAdvantages(a, in);
  ASSERT_TRUE(out.ok());
  ExpectClose(out->advantages, T2({{0.5, 0.5}, {-0.5, 0}}), "kimi with token rewards");
}

}  // namespace
}  // namespace ponder::trainer
