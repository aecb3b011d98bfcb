// The built-in algorithm plug-ins: one registration line each. To add a policy loss, an
// advantage estimator or a rollout correction, write its file in trainer/algorithms/ (a class
// with a static Create, see base/registry.h) and add its line here; docs/writing-an-algorithm.md
// walks through one.
#include "trainer/advantage_estimator.h"
#include "trainer/algorithms/cispo_loss.h"
#include "trainer/algorithms/gae_advantages.h"
#include "trainer/algorithms/group_baseline_advantages.h"
#include "trainer/algorithms/gspo_loss.h"
#include "trainer/algorithms/kimi_advantages.h"
#include "trainer/algorithms/kimi_loss.h"
#include "trainer/algorithms/ppo_clip_loss.h"
#include "trainer/algorithms/reinforce_pp_advantages.h"
#include "trainer/algorithms/rloo_advantages.h"
#include "trainer/algorithms/tis_correction.h"
#include "trainer/algorithms/token_mask_correction.h"
#include "trainer/policy_loss.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {
namespace {

void RegisterPolicyLosses(PolicyLossRegistry& r) {
  r.Register<PpoClipLoss>("ppo", "PPO's clipped surrogate, with clip-higher and dual clip");
  r.Register<GspoLoss>("gspo", "PPO's clip on the sequence-level (length-normalised) ratio");
  r.Register<KimiLoss>("kimi", "Kimi k1.5: policy gradient plus a squared pull to pi_old");
  r.Register<CispoLoss>("cispo", "MiniMax-M1: clipped, detached ratio times A log pi");
}

void RegisterAdvantageEstimators(AdvantageEstimatorRegistry& r) {
  r.Register<GaeAdvantages>("gae", "GAE with a critic (decoupled and length-adaptive lambda)");
  r.Register<GroupBaselineAdvantages>("grpo", "score against its group's mean (and std)");
  r.Register<RlooAdvantages>("rloo", "score against the mean of the group's other samples");
  r.Register<ReinforcePPPlainAdvantages>("reinforce_pp", "REINFORCE++: whitened returns",
                                         {"reinforce_plus_plus"});
  r.Register<ReinforcePPBaselineAdvantages>("reinforce_pp_baseline",
                                            "REINFORCE++ on group-centred scores",
                                            {"reinforce_plus_plus_baseline"});
  r.Register<KimiAdvantages>("kimi", "Kimi k1.5: score minus its group's mean");
}

void RegisterRolloutCorrections(RolloutCorrectionRegistry& r) {
  r.Register<TisCorrection>("tis", "truncated importance sampling: min(pi_old / pi_behaviour, C)");
  r.Register<TokenMaskCorrection>("token_mask",
                                  "drop tokens whose pi_old / pi_behaviour leaves [1/C, C]");
}

}  // namespace

const PolicyLossRegistry& PolicyLosses() {
  static const PolicyLossRegistry* const registry = [] {
    auto* r = new PolicyLossRegistry("policy loss");
    RegisterPolicyLosses(*r);
    return r;
  }();
  return *registry;
}

const AdvantageEstimatorRegistry& AdvantageEstimators() {
  static const AdvantageEstimatorRegistry* const registry = [] {
    auto* r = new AdvantageEstimatorRegistry("advantage estimator");
    RegisterAdvantageEstimators(*r);
    return r;
  }();
  return *registry;
}

const RolloutCorrectionRegistry& RolloutCorrections() {
  static const RolloutCorrectionRegistry* const registry = [] {
    auto* r = new RolloutCorrectionRegistry("rollout correction");
    RegisterRolloutCorrections(*r);
    return r;
  }();
  return *registry;
}

}  // namespace ponder::trainer
