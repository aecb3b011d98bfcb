#include "trainer/algorithm_options.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/advantage_estimator.h"
#include "trainer/policy_loss.h"
#include "trainer/rollout_correction.h"

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

namespace {

// A string field that names an entry of `registry`; read back as the entry's own name (an
// alias such as reinforce_plus_plus becomes reinforce_pp).
template <typename R>
void BindRegistered(config::Binder& b, const char* key, std::string& value, const R& registry,
                    const char* what) {
  b.Field(key, value)
      .Must(registry.Contains(value),
            absl::StrCat("name ", what, " (", registry.Supported(), "; got '", value, "')"));
  if (b.reading() && registry.Contains(value)) value = registry.Find(value)->name;
}

}  // namespace

void RolloutCorrectionOptions::Bind(config::Binder& b) {
  const RolloutCorrectionRegistry& registry = RolloutCorrections();
  auto check = b.Field("name", name);
  const RolloutCorrectionRegistry::Entry* entry = registry.Find(name);
  if (b.reading() && !name.empty()) {
    check.Must(entry != nullptr,
               absl::StrCat("be empty (no correction) or name a rollout correction (",
                            registry.Supported(), "; got '", name, "')"));
  }
  b.Field("options", options);
  // Decode the options with the correction's own type now, so problems surface at load.
  if (b.reading() && entry != nullptr && entry->check_options) entry->check_options(b, "options");
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
  BindFields(b);
}

void AlgorithmOptions::BindFields(config::Binder& b) {
  BindRegistered(b, "adv_estimator", adv_estimator, AdvantageEstimators(),
                 "an advantage estimator");
  b.Field("norm_adv_by_std_in_grpo", norm_adv_by_std_in_grpo);
  b.Field("gamma", gamma).InRange(0.0, 1.0);
  b.Field("lam", lam).InRange(0.0, 1.0);
  b.Field("lam_critic", lam_critic).InRange(0.0, 1.0);
  b.Field("lam_length_alpha", lam_length_alpha).AtLeast(0.0);
  b.Field("whiten_advantages", whiten_advantages);
  BindRegistered(b, "policy_loss", policy_loss, PolicyLosses(), "a policy loss");
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
  b.Field("rollout_correction", rollout_correction);
  b.Field("filter_groups", filter_groups);
}

bool AlgorithmOptions::NeedsCritic() const {
  absl::StatusOr<std::unique_ptr<AdvantageEstimator>> estimator =
      AdvantageEstimators().Create(adv_estimator, *this);
  return estimator.ok() && (*estimator)->NeedsCritic();
}

absl::Status AlgorithmOptions::Validate() const {
  absl::Status status = AdvantageEstimators().Create(adv_estimator, *this).status();
  if (status.ok()) status = PolicyLosses().Create(policy_loss, *this).status();
  if (status.ok() && !rollout_correction.name.empty()) {
    status =
        RolloutCorrections().Create(rollout_correction.name, rollout_correction.options).status();
  }
  return status;
}

}  // namespace ponder::trainer
