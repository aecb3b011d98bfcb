// The curriculum prompt sampler (see prompt_sampler.h).
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/internal/epoch_order.h"
#include "trainer/internal/random.h"
#include "trainer/internal/samplers.h"

namespace ponder::trainer::internal {
namespace {

class CurriculumSampler : public PromptSampler {
 public:
  CurriculumSampler(const SamplerOptions& options, std::map<int64_t, std::vector<int64_t>> members,
                    int64_t size, uint64_t seed)
      : stages_(options.curriculum),
        members_(std::move(members)),
        size_(size),
        seed_(seed),
        shuffle_(options.shuffle),
        rng_(seed) {
    orders_ = MakeOrders(seed_);
  }
  std::string name() const override { return "curriculum"; }

  std::vector<int64_t> Sample(int64_t count, int64_t step) override {
    const CurriculumStage& stage = StageAt(step);
    std::vector<int64_t> out;
    out.reserve(count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t level = stage.levels[PickLevel(stage)];
      out.push_back(members_.at(level)[orders_.at(level).Next()]);
    }
    return out;
  }

  std::string SaveState() const override {
    nlohmann::json levels = nlohmann::json::object();
    for (const auto& [level, order] : orders_) {
      levels[std::to_string(level)] = {order.epoch(), order.position()};
    }
    nlohmann::json j = {{"sampler", name()},
                        {"dataset_size", size_},
                        {"seed", seed_},
                        {"rng", EngineState(rng_)},
                        {"levels", levels}};
    return j.dump();
  }

  absl::Status LoadState(const std::string& state) override {
    auto j = ParseSamplerState(state, name(), size_);
    if (!j.ok()) return j.status();
    auto rng = StateField<std::string>(*j, "rng");
    if (!rng.ok()) return rng.status();
    auto seed = StateField<uint64_t>(*j, "seed");
    if (!seed.ok()) return seed.status();
    auto levels = StateField<std::map<std::string, std::vector<int64_t>>>(*j, "levels");
    if (!levels.ok()) return levels.status();
    if (levels->size() != orders_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("sampler state has ", levels->size(),
                                                     " levels; this dataset has ", orders_.size()));
    }
    std::mt19937_64 engine;
    if (!SetEngineState(*rng, engine)) {
      return absl::InvalidArgumentError("sampler state field 'rng' is not an engine state");
    }
    std::map<int64_t, EpochOrder> orders = MakeOrders(*seed);
    for (auto& [level, order] : orders) {
      auto it = levels->find(std::to_string(level));
      if (it == levels->end() || it->second.size() != 2 || it->second[0] < 0 || it->second[1] < 0 ||
          it->second[1] > order.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("sampler state has no valid position for level ", level));
      }
      order.Seek(it->second[0], it->second[1]);
    }
    rng_ = engine;
    seed_ = *seed;
    orders_ = std::move(orders);
    return absl::OkStatus();
  }

 private:
  std::map<int64_t, EpochOrder> MakeOrders(uint64_t seed) const {
    std::map<int64_t, EpochOrder> orders;
    for (const auto& [level, indices] : members_) {
      orders[level] =
          EpochOrder(static_cast<int64_t>(indices.size()),
                     seed ^ (0x5851F42D4C957F2DULL * static_cast<uint64_t>(level + 1)), shuffle_);
    }
    return orders;
  }

  const CurriculumStage& StageAt(int64_t step) const {
    for (const auto& stage : stages_) {
      if (stage.until_step > 0 && step < stage.until_step) return stage;
    }
    return stages_.back();
  }

  size_t PickLevel(const CurriculumStage& stage) {
    const size_t n = stage.levels.size();
    if (n == 1) return 0;
    if (stage.weights.empty()) return UniformInt(rng_, n);
    double total = 0;
    for (double w : stage.weights) total += w;
    double u = UniformDouble(rng_) * total;
    for (size_t i = 0; i < n; ++i) {
      if (u < stage.weights[i]) return i;
      u -= stage.weights[i];
    }
    for (size_t i = n; i-- > 0;) {  // rounding at the top end: the last level with weight
      if (stage.weights[i] > 0) return i;
    }
    return n - 1;
  }

  std::vector<CurriculumStage> stages_;
  std::map<int64_t, std::vector<int64_t>> members_;  // level -> dataset indices
  std::map<int64_t, EpochOrder> orders_;
  int64_t size_;
  uint64_t seed_;
  bool shuffle_;
  std::mt19937_64 rng_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PromptSampler>> MakeCurriculumSampler(
    const SamplerOptions& options, const std::vector<int64_t>& levels, uint64_t seed) {
  std::map<int64_t, std::vector<int64_t>> members;
  for (size_t i = 0; i < levels.size(); ++i) members[levels[i]].push_back(static_cast<int64_t>(i));
  for (size_t s = 0; s < options.curriculum.size(); ++s) {
    if (absl::Status st = options.curriculum[s].Validate(); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("data.sampler.curriculum[", s, "]: ", st.message()));
    }
    for (int64_t level : options.curriculum[s].levels) {
      if (members.count(level) == 0) {
        std::vector<int64_t> present;
        for (const auto& [l, _] : members) present.push_back(l);
        return absl::InvalidArgumentError(
            absl::StrCat("data.sampler.curriculum[", s, "] asks for level ", level,
                         ", but the dataset has no prompts of that level (levels present: ",
                         absl::StrJoin(present, ", "), ")"));
      }
    }
  }
  const int64_t size = static_cast<int64_t>(levels.size());
  return std::unique_ptr<PromptSampler>(
      new CurriculumSampler(options, std::move(members), size, seed));
}

}  // namespace ponder::trainer::internal
