#include "trainer/algorithm_options.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ponder::trainer {

const char* LossAggModeName(LossAggMode mode) {
  switch (mode) {
    case LossAggMode::kTokenMean:
      return "token-mean";
    case LossAggMode::kSeqMeanTokenSum:
      return "seq-mean-token-sum";
    case LossAggMode::kSeqMeanTokenMean:
      return "seq-mean-token-mean";
    case LossAggMode::kSeqMeanTokenSumNorm:
      return "seq-mean-token-sum-norm";
  }
  return "?";
}

void AlgorithmOptions::Bind(config::Binder& b) {
  const std::vector<std::string> presets = AlgorithmPresetNames();
  auto is_preset = [&presets](const std::string& n) {
    return std::find(presets.begin(), presets.end(), n) != presets.end();
  };
  b.Field("name", name)
      .Must(is_preset(name),
            absl::StrCat("name a preset: ", absl::StrJoin(presets, ", "), " (got '", name, "')"));
  // The preset first; the fields given below override it.
  if (b.reading() && is_preset(name)) *this = *AlgorithmPreset(name);
  b.Enum("adv_estimator", adv_estimator,
         {{"gae", AdvEstimator::kGae},
          {"grpo", AdvEstimator::kGrpo},
          {"rloo", AdvEstimator::kRloo},
          {"reinforce_pp", AdvEstimator::kReinforcePP},
          {"reinforce_plus_plus", AdvEstimator::kReinforcePP},
          {"reinforce_pp_baseline", AdvEstimator::kReinforcePPBaseline},
          {"reinforce_plus_plus_baseline", AdvEstimator::kReinforcePPBaseline},
          {"kimi", AdvEstimator::kKimi}});
  b.Field("norm_adv_by_std_in_grpo", norm_adv_by_std_in_grpo);
  b.Field("gamma", gamma).InRange(0.0, 1.0);
  b.Field("lam", lam).InRange(0.0, 1.0);
  b.Field("lam_critic", lam_critic).InRange(0.0, 1.0);
  b.Field("lam_length_alpha", lam_length_alpha).AtLeast(0.0);
  b.Field("whiten_advantages", whiten_advantages);
  b.Enum("policy_loss", policy_loss,
         {{"ppo", PolicyLossKind::kPpo},
          {"gspo", PolicyLossKind::kGspo},
          {"kimi", PolicyLossKind::kKimi}});
  b.Field("clip_ratio_low", clip_ratio_low).InRange(0.0, 1.0);
  b.Field("clip_ratio_high", clip_ratio_high).AtLeast(0.0);
  b.Field("clip_ratio_c", clip_ratio_c)
      .Must(clip_ratio_c == 0.0 || clip_ratio_c > 1.0, "be 0 (off) or > 1");
  b.Field("kimi_tau", kimi_tau).AtLeast(0.0);
  b.Field("reset_optimizer_per_step", reset_optimizer_per_step);
  b.Enum("loss_agg_mode", loss_agg_mode,
         {{"token-mean", LossAggMode::kTokenMean},
          {"seq-mean-token-sum", LossAggMode::kSeqMeanTokenSum},
          {"seq-mean-token-mean", LossAggMode::kSeqMeanTokenMean},
          {"seq-mean-token-sum-norm", LossAggMode::kSeqMeanTokenSumNorm}});
  b.Field("loss_scale_factor", loss_scale_factor).AtLeast(0.0);
  b.Field("mask_truncated", mask_truncated);
  b.Field("use_kl_in_reward", use_kl_in_reward);
  b.Field("kl_coef", kl_coef).AtLeast(0.0);
  const std::initializer_list<std::pair<const char*, KlEstimator>> kl_names = {
      {"k1", KlEstimator::kK1},  {"kl", KlEstimator::kK1}, {"k2", KlEstimator::kK2},
      {"mse", KlEstimator::kK2}, {"k3", KlEstimator::kK3}, {"low_var_kl", KlEstimator::kK3},
      {"abs", KlEstimator::kAbs}};
  b.Enum("kl_penalty", kl_penalty, kl_names);
  b.Field("use_kl_loss", use_kl_loss);
  b.Field("kl_loss_coef", kl_loss_coef).AtLeast(0.0);
  b.Enum("kl_loss_type", kl_loss_type, kl_names);
  b.Field("entropy_coeff", entropy_coeff);
  b.Field("positive_nll_coef", positive_nll_coef).AtLeast(0.0);
  b.Field("cliprange_value", cliprange_value).AtLeast(0.0);
  b.Field("filter_groups", filter_groups);
}

absl::Status AlgorithmOptions::Validate() const {
  if (policy_loss == PolicyLossKind::kKimi && adv_estimator == AdvEstimator::kGae) {
    return absl::InvalidArgumentError(
        "policy_loss kimi uses one advantage per sample (r - mean r); it cannot use "
        "adv_estimator gae (choose kimi, grpo, rloo or reinforce_pp_baseline)");
  }
  return absl::OkStatus();
}

std::vector<std::string> AlgorithmPresetNames() {
  return {"grpo", "dr_grpo", "dapo", "ppo", "vapo", "kimi", "rloo", "reinforce_pp", "gspo"};
}

absl::StatusOr<AlgorithmOptions> AlgorithmPreset(const std::string& name) {
  AlgorithmOptions o;  // the in-class defaults are the grpo preset
  o.name = name;
  auto no_kl = [&o] {
    o.use_kl_loss = false;
    o.use_kl_in_reward = false;
  };
  if (name == "grpo") {
    return o;
  }
  if (name == "dr_grpo") {
    o.norm_adv_by_std_in_grpo = false;
    o.loss_agg_mode = LossAggMode::kSeqMeanTokenSumNorm;
    no_kl();
    return o;
  }
  if (name == "dapo") {
    o.clip_ratio_high = 0.28;
    o.clip_ratio_c = 10.0;
    o.loss_agg_mode = LossAggMode::kTokenMean;
    no_kl();
    o.filter_groups.enable = true;
    return o;
  }
  if (name == "ppo" || name == "vapo") {
    o.adv_estimator = AdvEstimator::kGae;
    o.gamma = 1.0;
    o.lam = 0.95;
    o.lam_critic = 1.0;
    o.loss_agg_mode = LossAggMode::kTokenMean;
    no_kl();
    if (name == "vapo") {
      o.lam_length_alpha = 0.05;
      o.clip_ratio_high = 0.28;
      o.positive_nll_coef = 0.1;
    }
    return o;
  }
  if (name == "kimi") {
    o.adv_estimator = AdvEstimator::kKimi;
    o.policy_loss = PolicyLossKind::kKimi;
    o.kimi_tau = 0.1;
    o.reset_optimizer_per_step = true;
    o.loss_agg_mode = LossAggMode::kSeqMeanTokenSum;
    no_kl();
    return o;
  }
  if (name == "rloo") {
    o.adv_estimator = AdvEstimator::kRloo;
    o.loss_agg_mode = LossAggMode::kSeqMeanTokenSum;
    no_kl();
    return o;
  }
  if (name == "reinforce_pp") {
    o.adv_estimator = AdvEstimator::kReinforcePP;
    o.loss_agg_mode = LossAggMode::kTokenMean;
    o.use_kl_loss = false;
    o.use_kl_in_reward = true;
    o.kl_penalty = KlEstimator::kK1;
    o.kl_coef = 0.001;
    return o;
  }
  if (name == "gspo") {
    o.policy_loss = PolicyLossKind::kGspo;
    o.clip_ratio_low = 3e-4;
    o.clip_ratio_high = 4e-4;
    o.loss_agg_mode = LossAggMode::kSeqMeanTokenMean;
    no_kl();
    return o;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", name, "' (choose one of: ",
                                                 absl::StrJoin(AlgorithmPresetNames(), ", "), ")"));
}

}  // namespace ponder::trainer
