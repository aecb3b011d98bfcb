// The prioritized prompt sampler of Kimi k1.5 (see prompt_sampler.h): prompt i is drawn with
// probability proportional to max(1 - s_i, floor).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "trainer/internal/random.h"
#include "trainer/internal/samplers.h"

namespace ponder::trainer::internal {
namespace {

// Weights in the leaves of a complete binary tree whose inner nodes hold the sums of their
// children, recomputed from the children on every update, so the tree is a pure function of
// the leaves: rebuilding it after a restore gives bit-identical sums, hence identical draws.
class SumTree {
 public:
  explicit SumTree(int64_t n) : n_(n) {
    while (capacity_ < n) capacity_ *= 2;
    nodes_.assign(2 * capacity_, 0.0);
  }
  void Set(int64_t i, double w) {
    int64_t node = capacity_ + i;
    nodes_[node] = w;
    for (node /= 2; node >= 1; node /= 2) nodes_[node] = nodes_[2 * node] + nodes_[2 * node + 1];
  }
  double total() const { return nodes_[1]; }
  // The leaf where the running sum passes u (0 <= u < total), skipping zero-weight leaves.
  int64_t Find(double u) const {
    int64_t node = 1;
    while (node < capacity_) {
      const double left = nodes_[2 * node];
      if (u < left || nodes_[2 * node + 1] <= 0) {
        node = 2 * node;
      } else {
        u -= left;
        node = 2 * node + 1;
      }
    }
    return std::min(node - capacity_, n_ - 1);
  }

 private:
  int64_t n_;
  int64_t capacity_ = 1;
  std::vector<double> nodes_;
};

class PrioritizedSampler : public PromptSampler {
 public:
  PrioritizedSampler(const SamplerOptions& options, int64_t size, uint64_t seed)
      : floor_(options.floor),
        decay_(options.success_decay),
        initial_(options.initial_success),
        attempts_(size, 0.0),
        successes_(size, 0.0),
        tree_(size),
        rng_(seed) {
    for (int64_t i = 0; i < size; ++i) tree_.Set(i, Weight(i));
  }
  std::string name() const override { return "prioritized"; }

  std::vector<int64_t> Sample(int64_t count, int64_t step) override {
    std::vector<int64_t> out;
    out.reserve(count);
    const int64_t n = static_cast<int64_t>(attempts_.size());
    for (int64_t k = 0; k < count; ++k) {
      const double total = tree_.total();
      if (!(total > 0)) {  // every prompt solved and floor 0: fall back to uniform
        out.push_back(static_cast<int64_t>(UniformInt(rng_, n)));
        continue;
      }
      out.push_back(tree_.Find(UniformDouble(rng_) * total));
    }
    return out;
  }

  void Observe(int64_t index, double successes, int64_t attempts) override {
    if (index < 0 || index >= static_cast<int64_t>(attempts_.size()) || attempts <= 0) return;
    attempts_[index] = decay_ * attempts_[index] + static_cast<double>(attempts);
    successes_[index] = decay_ * successes_[index] + successes;
    tree_.Set(index, Weight(index));
  }

  // The success rate the sampler currently holds for prompt `index`.
  double SuccessRate(int64_t index) const {
    return attempts_[index] > 0 ? std::clamp(successes_[index] / attempts_[index], 0.0, 1.0)
                                : initial_;
  }

  std::string SaveState() const override {
    nlohmann::json j = {{"sampler", name()},
                        {"dataset_size", attempts_.size()},
                        {"rng", EngineState(rng_)},
                        {"attempts", attempts_},
                        {"successes", successes_}};
    return j.dump();
  }

  absl::Status LoadState(const std::string& state) override {
    const int64_t n = static_cast<int64_t>(attempts_.size());
    auto j = ParseSamplerState(state, name(), n);
    if (!j.ok()) return j.status();
    auto rng = StateField<std::string>(*j, "rng");
    auto attempts = StateField<std::vector<double>>(*j, "attempts");
    auto successes = StateField<std::vector<double>>(*j, "successes");
    for (const absl::Status& s : {rng.status(), attempts.status(), successes.status()}) {
      if (!s.ok()) return s;
    }
    if (static_cast<int64_t>(attempts->size()) != n ||
        static_cast<int64_t>(successes->size()) != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("sampler state must hold ", n, " attempts and successes"));
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!((*attempts)[i] >= 0) || !((*successes)[i] >= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("sampler state has a negative or non-finite count for prompt ", i));
      }
    }
    std::mt19937_64 engine;
    if (!SetEngineState(*rng, engine)) {
      return absl::InvalidArgumentError("sampler state field 'rng' is not an engine state");
    }
    rng_ = engine;
    attempts_ = std::move(*attempts);
    successes_ = std::move(*successes);
    tree_ = SumTree(n);
    for (int64_t i = 0; i < n; ++i) tree_.Set(i, Weight(i));
    return absl::OkStatus();
  }

 private:
  double Weight(int64_t i) const { return std::max(1.0 - SuccessRate(i), floor_); }

  double floor_;
  double decay_;
  double initial_;
  std::vector<double> attempts_;
  std::vector<double> successes_;
  SumTree tree_;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<PromptSampler> MakePrioritizedSampler(const SamplerOptions& options, int64_t size,
                                                      uint64_t seed) {
  return std::make_unique<PrioritizedSampler>(options, size, seed);
}

}  // namespace ponder::trainer::internal
