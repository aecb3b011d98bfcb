// The algorithm presets (`algorithm.name`): a data table of option overrides on the defaults
// of AlgorithmOptions (which are the grpo preset), documented in algorithm_options.h.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/algorithm_options.h"

namespace ponder::trainer {
namespace {

struct Preset {
  const char* name;
  const char* overrides;  // YAML: algorithm fields (no `name`)
};

#define PONDER_NO_KL "use_kl_loss: false, use_kl_in_reward: false"

constexpr Preset kPresets[] = {
    {"grpo", "{}"},
    {"dr_grpo",
     "{norm_adv_by_std_in_grpo: false, loss_agg_mode: seq-mean-token-sum-norm, " PONDER_NO_KL "}"},
    {"dapo", "{clip_ratio_high: 0.28, clip_ratio_c: 10.0, loss_agg_mode: token-mean, " PONDER_NO_KL
             ", filter_groups: {enable: true}}"},
    {"ppo",
     "{adv_estimator: gae, gamma: 1.0, lam: 0.95, lam_critic: 1.0, loss_agg_mode: "
     "token-mean, " PONDER_NO_KL "}"},
    {"vapo",
     "{adv_estimator: gae, gamma: 1.0, lam: 0.95, lam_critic: 1.0, loss_agg_mode: "
     "token-mean, " PONDER_NO_KL
     ", lam_length_alpha: 0.05, clip_ratio_high: 0.28, positive_nll_coef: 0.1}"},
    {"kimi",
     "{adv_estimator: kimi, policy_loss: kimi, kimi_tau: 0.1, reset_optimizer_per_step: true, "
     "loss_agg_mode: seq-mean-token-sum, " PONDER_NO_KL "}"},
    {"rloo", "{adv_estimator: rloo, loss_agg_mode: seq-mean-token-sum, " PONDER_NO_KL "}"},
    {"reinforce_pp",
     "{adv_estimator: reinforce_pp, loss_agg_mode: token-mean, use_kl_loss: false, "
     "use_kl_in_reward: true, kl_penalty: k1, kl_coef: 0.001}"},
    {"gspo",
     "{policy_loss: gspo, clip_ratio_low: 3.0e-4, clip_ratio_high: 4.0e-4, "
     "loss_agg_mode: seq-mean-token-mean, " PONDER_NO_KL "}"},
};

#undef PONDER_NO_KL

// Decodes a preset's overrides onto the defaults (every field but `name`).
struct PresetFields {
  AlgorithmOptions options;
  void Bind(config::Binder& b) { options.BindFields(b); }
};

}  // namespace

std::vector<std::string> AlgorithmPresetNames() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.push_back(p.name);
  return names;
}

absl::StatusOr<AlgorithmOptions> AlgorithmPreset(const std::string& name) {
  for (const Preset& p : kPresets) {
    if (name != p.name) continue;
    absl::StatusOr<PresetFields> fields =
        config::LoadString<PresetFields>(p.overrides, absl::StrCat("preset ", name));
    if (!fields.ok()) return fields.status();  // a bad table row: caught by the tests
    fields->options.name = name;
    return fields->options;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", name, "' (choose one of: ",
                                                 absl::StrJoin(AlgorithmPresetNames(), ", "), ")"));
}

}  // namespace ponder::trainer
