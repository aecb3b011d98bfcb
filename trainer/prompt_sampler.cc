#include "trainer/prompt_sampler.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "trainer/internal/epoch_order.h"
#include "trainer/internal/samplers.h"

namespace ponder::trainer {

void CurriculumStage::Bind(config::Binder& b) {
  b.Field("until_step", until_step).AtLeast(0);
  b.Field("levels", levels).NotEmpty();
  b.Field("weights", weights);
}

absl::Status CurriculumStage::Validate() const {
  if (!weights.empty() && weights.size() != levels.size()) {
    return absl::InvalidArgumentError(absl::StrCat("weights must have one entry per level (",
                                                   levels.size(), " levels, ", weights.size(),
                                                   " weights)"));
  }
  double total = 0;
  for (double w : weights) {
    if (!(w >= 0)) return absl::InvalidArgumentError("weights must be >= 0");
    total += w;
  }
  if (!weights.empty() && !(total > 0)) {
    return absl::InvalidArgumentError("weights must not all be 0");
  }
  if (std::set<int64_t>(levels.begin(), levels.end()).size() != levels.size()) {
    return absl::InvalidArgumentError("levels must not repeat");
  }
  return absl::OkStatus();
}

void SamplerOptions::Bind(config::Binder& b) {
  b.Field("name", name)
      .Must(name == "uniform" || name == "curriculum" || name == "prioritized",
            "be uniform, curriculum or prioritized (got '" + name + "')");
  b.Field("shuffle", shuffle);
  b.Field("curriculum", curriculum);
  b.Field("floor", floor).InRange(0.0, 1.0);
  b.Field("success_decay", success_decay).InRange(0.0, 1.0);
  b.Field("initial_success", initial_success).InRange(0.0, 1.0);
}

absl::Status SamplerOptions::Validate() const {
  if (name == "curriculum" && curriculum.empty()) {
    return absl::InvalidArgumentError(
        "the curriculum sampler needs a `curriculum:` list of stages ({until_step, levels})");
  }
  for (size_t i = 0; i < curriculum.size(); ++i) {
    const bool last = i + 1 == curriculum.size();
    const int64_t previous = i == 0 ? 0 : curriculum[i - 1].until_step;
    if ((!last || curriculum[i].until_step != 0) && curriculum[i].until_step <= previous) {
      return absl::InvalidArgumentError(
          absl::StrCat("curriculum[", i, "].until_step must be greater than ", previous, " (got ",
                       curriculum[i].until_step, "); only the last stage may omit it"));
    }
  }
  return absl::OkStatus();
}

namespace internal {

absl::StatusOr<nlohmann::json> ParseSamplerState(const std::string& state, const std::string& kind,
                                                 int64_t dataset_size) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(state);
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat("sampler state is not valid JSON: ", e.what()));
  }
  if (!j.is_object()) return absl::InvalidArgumentError("sampler state must be a JSON object");
  auto saved_kind = StateField<std::string>(j, "sampler");
  if (!saved_kind.ok()) return saved_kind.status();
  if (*saved_kind != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampler state is for the '", *saved_kind, "' sampler, not '", kind, "'"));
  }
  auto size = StateField<int64_t>(j, "dataset_size");
  if (!size.ok()) return size.status();
  if (*size != dataset_size) {
    return absl::InvalidArgumentError(absl::StrCat("sampler state is for a dataset of ", *size,
                                                   " prompts; this dataset has ", dataset_size));
  }
  return j;
}

namespace {

class UniformSampler : public PromptSampler {
 public:
  UniformSampler(int64_t size, uint64_t seed, bool shuffle)
      : order_(size, seed, shuffle), seed_(seed), shuffle_(shuffle) {}
  std::string name() const override { return "uniform"; }

  std::vector<int64_t> Sample(int64_t count, int64_t step) override {
    std::vector<int64_t> out;
    out.reserve(count);
    for (int64_t i = 0; i < count; ++i) out.push_back(order_.Next());
    return out;
  }

  std::string SaveState() const override {
    nlohmann::json j = {{"sampler", name()},       {"dataset_size", order_.size()},
                        {"seed", seed_},           {"shuffle", shuffle_},
                        {"epoch", order_.epoch()}, {"position", order_.position()}};
    return j.dump();
  }

  absl::Status LoadState(const std::string& state) override {
    auto j = ParseSamplerState(state, name(), order_.size());
    if (!j.ok()) return j.status();
    auto seed = StateField<uint64_t>(*j, "seed");
    auto shuffle = StateField<bool>(*j, "shuffle");
    auto epoch = StateField<int64_t>(*j, "epoch");
    auto position = StateField<int64_t>(*j, "position");
    for (const absl::Status& s :
         {seed.status(), shuffle.status(), epoch.status(), position.status()}) {
      if (!s.ok()) return s;
    }
    if (*epoch < 0 || *position < 0 || *position > order_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sampler state has position ", *position, " in epoch ", *epoch, ", outside the dataset"));
    }
    seed_ = *seed;
    shuffle_ = *shuffle;
    order_ = EpochOrder(order_.size(), seed_, shuffle_);
    order_.Seek(*epoch, *position);
    return absl::OkStatus();
  }

 private:
  EpochOrder order_;
  uint64_t seed_;
  bool shuffle_;
};

}  // namespace

std::unique_ptr<PromptSampler> MakeUniformSampler(const SamplerOptions& options, int64_t size,
                                                  uint64_t seed) {
  return std::make_unique<UniformSampler>(size, seed, options.shuffle);
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<PromptSampler>> MakePromptSampler(const SamplerOptions& options,
                                                                 const std::vector<int64_t>& levels,
                                                                 uint64_t seed) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data.sampler: ", s.message()));
  }
  const int64_t size = static_cast<int64_t>(levels.size());
  if (size == 0) return absl::InvalidArgumentError("cannot sample prompts from an empty dataset");
  if (options.name == "uniform") return internal::MakeUniformSampler(options, size, seed);
  if (options.name == "curriculum") return internal::MakeCurriculumSampler(options, levels, seed);
  if (options.name == "prioritized") return internal::MakePrioritizedSampler(options, size, seed);
  return absl::InvalidArgumentError(
      absl::StrCat("data.sampler.name: unknown sampler '", options.name,
                   "' (choose one of: uniform, curriculum, prioritized)"));
}

}  // namespace ponder::trainer
