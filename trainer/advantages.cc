#include "trainer/advantages.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

at::Tensor PlaceScores(const at::Tensor& scores, const at::Tensor& mask,
                       const at::Tensor& token_rewards) {
  const int64_t T = mask.size(1);
  at::Tensor m = mask.to(scores.scalar_type());
  at::Tensor rewards =
      token_rewards.defined() ? token_rewards.to(scores.scalar_type()).clone() : at::zeros_like(m);
  at::Tensor positions = at::arange(1, T + 1, m.options());
  at::Tensor last = (m * positions).argmax(1, /*keepdim=*/true);  // last mask position
  at::Tensor has_tokens = (m.sum(1, /*keepdim=*/true) > 0).to(scores.scalar_type());
  rewards.scatter_add_(1, last, scores.reshape({-1, 1}) * has_tokens);
  return rewards;
}

at::Tensor Gae(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask,
               double gamma, const at::Tensor& lam) {
  const int64_t T = rewards.size(1);
  at::Tensor m = mask.to(rewards.scalar_type());
  at::Tensor next_value = at::zeros({rewards.size(0)}, rewards.options());
  at::Tensor next_adv = at::zeros_like(next_value);
  at::Tensor out = at::zeros_like(rewards);
  for (int64_t t = T - 1; t >= 0; --t) {
    at::Tensor mt = m.select(1, t);
    at::Tensor vt = values.select(1, t);
    at::Tensor delta = rewards.select(1, t) + gamma * next_value - vt;
    at::Tensor adv = delta + gamma * lam * next_adv;
    out.select(1, t).copy_(adv * mt);
    at::Tensor on = mt > 0;
    next_value = at::where(on, vt, next_value);
    next_adv = at::where(on, adv, next_adv);
  }
  return out;
}

at::Tensor DiscountedReturns(const at::Tensor& rewards, const at::Tensor& mask, double gamma) {
  const int64_t T = rewards.size(1);
  at::Tensor m = mask.to(rewards.scalar_type());
  at::Tensor running = at::zeros({rewards.size(0)}, rewards.options());
  at::Tensor out = at::zeros_like(rewards);
  for (int64_t t = T - 1; t >= 0; --t) {
    at::Tensor mt = m.select(1, t);
    at::Tensor g = rewards.select(1, t) + gamma * running;
    out.select(1, t).copy_(g * mt);
    running = at::where(mt > 0, g, running);
  }
  return out;
}

at::Tensor MaskedWhiten(const at::Tensor& x, const at::Tensor& mask) {
  at::Tensor m = mask.to(x.scalar_type());
  const double n = m.sum().item<double>();
  if (n <= 0) return at::zeros_like(x);
  at::Tensor mean = (x * m).sum() / n;
  at::Tensor centered = (x - mean) * m;
  at::Tensor var = n >= 2 ? (centered * centered).sum() / (n - 1) : at::zeros_like(mean);
  return centered * at::rsqrt(var + 1e-8);
}

absl::StatusOr<at::Tensor> GroupAdvantages(const at::Tensor& scores,
                                           const std::vector<int64_t>& group_ids,
                                           GroupBaseline baseline) {
  const int64_t B = scores.size(0);
  if (static_cast<int64_t>(group_ids.size()) != B) {
    return absl::InvalidArgumentError(
        absl::StrCat("group ids: ", group_ids.size(), " entries for ", B, " samples"));
  }
  at::Tensor s = scores.to(at::kDouble).cpu().contiguous();
  const double* sp = s.data_ptr<double>();
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < B; ++i) members[group_ids[i]].push_back(i);
  std::vector<double> adv(B, 0.0);
  for (const auto& [group, idx] : members) {
    const double n = static_cast<double>(idx.size());
    double sum = 0;
    for (int64_t i : idx) sum += sp[i];
    const double mean = sum / n;
    if (baseline == GroupBaseline::kLeaveOneOut) {
      if (idx.size() < 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("rloo needs at least 2 samples per prompt; group ", group, " has 1"));
      }
      for (int64_t i : idx) adv[i] = sp[i] - (sum - sp[i]) / (n - 1);
      continue;
    }
    if (idx.size() < 2) continue;  // no relative signal in a group of one
    double var = 0;
    for (int64_t i : idx) var += (sp[i] - mean) * (sp[i] - mean);
    const double std = std::sqrt(var / (n - 1));
    for (int64_t i : idx) {
      adv[i] = baseline == GroupBaseline::kMeanStd ? (sp[i] - mean) / (std + 1e-6) : sp[i] - mean;
    }
  }
  return at::tensor(adv, at::TensorOptions().dtype(at::kDouble))
      .to(scores.device(), scores.scalar_type());
}

absl::Status CheckAdvantageInput(const AdvantageInput& in) {
  if (!in.scores.defined() || in.scores.dim() != 1 || !in.mask.defined() || in.mask.dim() != 2 ||
      in.mask.size(0) != in.scores.size(0)) {
    return absl::InvalidArgumentError("advantages need scores [B] and a response mask [B, T]");
  }
  if (in.token_rewards.defined() && !in.token_rewards.sizes().equals(in.mask.sizes())) {
    return absl::InvalidArgumentError("token rewards must have the response mask's shape");
  }
  return absl::OkStatus();
}

absl::StatusOr<Advantages> SequenceGroupAdvantages(const AdvantageInput& in,
                                                   GroupBaseline baseline) {
  const auto dtype = in.scores.scalar_type();
  at::Tensor mask = in.mask.to(dtype);
  // Per-token rewards (a KL penalty) enter a sequence-level estimator as their sum.
  at::Tensor scores = in.token_rewards.defined()
                          ? in.scores + (in.token_rewards.to(dtype) * mask).sum(1)
                          : in.scores;
  absl::StatusOr<at::Tensor> adv = GroupAdvantages(scores, in.group_ids, baseline);
  if (!adv.ok()) return adv.status();
  Advantages out;
  out.advantages = adv->reshape({-1, 1}) * mask;
  out.returns = out.advantages;
  return out;
}

}  // namespace ponder::trainer
