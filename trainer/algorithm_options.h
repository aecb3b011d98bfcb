// `algorithm:` — how rewards become advantages and advantages become a loss.
//
// `name` picks a preset, a documented set of the options below; every option given next to
// it overrides the preset (`algorithm: {name: dapo, clip_ratio_high: 0.3}`). The presets are
// a data table of option overrides in trainer/algorithm_presets.cc (sources in
// docs/design/algorithms.md):
//
//   grpo          DeepSeekMath/R1 GRPO: adv_estimator grpo (group mean and std),
//                 policy_loss ppo (clip 0.2), loss_agg_mode seq-mean-token-mean, KL to the
//                 reference in the loss: use_kl_loss, kl_loss_type k3, kl_loss_coef 0.001.
//                 (The default when no name is given.)
//   dr_grpo       Dr. GRPO: grpo without the std division (norm_adv_by_std_in_grpo false),
//                 loss_agg_mode seq-mean-token-sum-norm (divide by a constant, the max
//                 response length unless loss_scale_factor is set), no KL.
//   dapo          DAPO: grpo advantages, clip-higher (clip_ratio_low 0.2, clip_ratio_high
//                 0.28), clip_ratio_c 10, token-mean, no KL, dynamic sampling
//                 (filter_groups.enable). Its soft overlong punishment depends on the
//                 rollout's length limit and is set in the reward section
//                 (reward.overlong: {enabled: true, max_length: L, cache_length: C}).
//   ppo           PPO with a critic: adv_estimator gae (gamma 1, lam 0.95, lam_critic 1 —
//                 decoupled GAE), advantages whitened, policy_loss ppo (clip 0.2, dual clip
//                 3), token-mean, clipped value loss (cliprange_value 0.5), no KL.
//   vapo          VAPO: ppo plus length-adaptive lambda (lam_length_alpha 0.05), clip-higher
//                 (0.2 / 0.28), positive-example NLL (positive_nll_coef 0.1).
//   kimi          Kimi k1.5: adv_estimator kimi (reward minus the group's mean reward),
//                 policy_loss kimi: per sample -(r - mean r) log pi + tau/2 (log pi - log
//                 pi_ref)^2 with sequence log-probs and pi_ref = the policy at the start of the
//                 step (the trainer's old log-probs), kimi_tau 0.1, optimizer reset at every
//                 step (reset_optimizer_per_step). The tau term has zero gradient on the first
//                 update of a step, so use trainer.ppo_epochs >= 2 (or mini-batches) with it.
//                 Kimi's length penalty (with its warm-up) is reward.length_penalty.
//   rloo          RLOO: adv_estimator rloo (reward minus the mean of the other samples),
//                 policy_loss ppo, loss_agg_mode seq-mean-token-sum (whole sequence as one
//                 action), no KL.
//   reinforce_pp  REINFORCE++: adv_estimator reinforce_pp (discounted returns of the token
//                 rewards, normalised over the whole batch), KL to the reference in the
//                 reward (use_kl_in_reward, k1, kl_coef 0.001), policy_loss ppo, token-mean.
//   gspo          GSPO: grpo advantages, policy_loss gspo (sequence-level ratio, the
//                 length-normalised log-ratio), clip_ratio_low 3e-4, clip_ratio_high 4e-4,
//                 seq-mean-token-mean, no KL.
//
// `adv_estimator` and `policy_loss` name registered plug-ins (advantage_estimator.h,
// policy_loss.h; the list is trainer/algorithm_list.cc), and so does
// `rollout_correction: {name: ..., options: {...}}` (rollout_correction.h; off by default),
// which corrects the policy loss for the gap between the rollout's and the trainer's log-probs.
//
// Option names follow verl (adv_estimator, norm_adv_by_std_in_grpo, gamma, lam,
// clip_ratio_low/high/c, loss_agg_mode, use_kl_in_reward, kl_coef, kl_penalty, use_kl_loss,
// kl_loss_coef, kl_loss_type, entropy_coeff, cliprange_value, filter_groups). The group-level
// reward shaping (Kimi length penalty, DAPO overlong punishment) belongs to the `reward:`
// section (reward/group_rewards.h); the learner applies it to each group before advantages.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "trainer/group_filter.h"

namespace ponder::trainer {

enum class LossAggMode { kTokenMean, kSeqMeanTokenSum, kSeqMeanTokenMean, kSeqMeanTokenSumNorm };
// Estimators of KL(pi || pi_ref) per token from log r = log pi_ref - log pi (Schulman):
// k1 = -log r, k2 = (log r)^2 / 2, k3 = r - 1 - log r, abs = |log r|.
enum class KlEstimator { kK1, kK2, kK3, kAbs };

// A rollout correction (rollout_correction.h) and its own options.
struct RolloutCorrectionOptions {
  std::string name;       // a registered rollout correction; empty: none
  config::Block options;  // its options, decoded by the correction

  void Bind(config::Binder& b);
};

struct AlgorithmOptions {
  std::string name = "grpo";

  // Advantages.
  std::string adv_estimator = "grpo";  // a registered advantage estimator
  bool norm_adv_by_std_in_grpo = true;
  double gamma = 1.0;
  double lam = 1.0;               // GAE lambda of the policy's advantages
  double lam_critic = 1.0;        // GAE lambda of the critic's targets (decoupled GAE)
  double lam_length_alpha = 0.0;  // VAPO: lam = 1 - 1/(alpha * length) per sample; 0: off
  bool whiten_advantages = true;  // gae: normalise advantages over the batch's tokens

  // Policy loss.
  std::string policy_loss = "ppo";  // a registered policy loss
  double clip_ratio_low = 0.2;
  double clip_ratio_high = 0.2;
  double clip_ratio_c = 3.0;  // dual clip for negative advantages; 0: off (else > 1)
  double kimi_tau = 0.1;
  bool reset_optimizer_per_step = false;
  LossAggMode loss_agg_mode = LossAggMode::kSeqMeanTokenMean;
  double loss_scale_factor = 0.0;  // seq-mean-token-sum-norm divisor; 0: max response length
  bool mask_truncated = false;     // truncated responses do not enter the loss

  // KL to a frozen reference policy.
  bool use_kl_in_reward = false;
  double kl_coef = 0.001;
  KlEstimator kl_penalty = KlEstimator::kK1;
  bool use_kl_loss = true;
  double kl_loss_coef = 0.001;
  KlEstimator kl_loss_type = KlEstimator::kK3;

  // Other loss terms.
  double entropy_coeff = 0.0;
  double positive_nll_coef = 0.0;  // VAPO mu: NLL on responses marked correct
  double cliprange_value = 0.5;    // critic value clipping

  // Correction for the gap between the rollout's and the trainer's log-probs.
  RolloutCorrectionOptions rollout_correction;

  // DAPO dynamic sampling (applied by the controller, see group_filter.h).
  FilterGroupsOptions filter_groups;

  // Whether a frozen reference policy is needed (a KL term with a non-zero coefficient).
  bool NeedsReference() const {
    return (use_kl_in_reward && kl_coef > 0) || (use_kl_loss && kl_loss_coef > 0);
  }
  // Whether the advantage estimator needs a critic (a value model).
  bool NeedsCritic() const;

  void Bind(config::Binder& b);
  // Every field but `name` (what a preset overrides).
  void BindFields(config::Binder& b);
  // The loss, the estimator and the correction accept these options together.
  absl::Status Validate() const;
};

// The preset `name` (see above); InvalidArgument listing the presets when unknown.
// (trainer/algorithm_presets.cc)
absl::StatusOr<AlgorithmOptions> AlgorithmPreset(const std::string& name);
// Names of all presets, in the order documented above.
std::vector<std::string> AlgorithmPresetNames();

const char* LossAggModeName(LossAggMode mode);

}  // namespace ponder::trainer
