#include "trainer/group_filter.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

void FilterGroupsOptions::Bind(config::Binder& b) {
  b.Field("enable", enable);
  b.Field("max_num_gen_batches", max_num_gen_batches).AtLeast(0);
  b.Field("allow_partial_batch", allow_partial_batch);
}

void GroupFilter::BeginBatch(int64_t target_groups) {
  target_ = target_groups;
  kept_ = dropped_ = surplus_ = gen_batches_ = 0;
}

bool GroupFilter::NeedsGeneration() const {
  if (full()) return false;
  if (!options_.enable) return gen_batches_ == 0;
  return options_.max_num_gen_batches == 0 || gen_batches_ < options_.max_num_gen_batches;
}

GroupVerdict GroupFilter::Offer(const std::vector<double>& rewards) {
  if (full()) {
    ++surplus_;
    return GroupVerdict::kSurplus;
  }
  ++total_offered_;
  if (options_.enable) {
    bool all_equal = true;
    for (double r : rewards) all_equal = all_equal && r == rewards.front();
    if (all_equal) {
      ++dropped_;
      ++total_dropped_;
      return GroupVerdict::kDropEqual;
    }
  }
  ++kept_;
  return GroupVerdict::kKeep;
}

absl::Status GroupFilter::FinishBatch() const {
  // Without filtering a batch is short only by prompts skipped as bad (counted elsewhere).
  if (full() || !options_.enable || options_.allow_partial_batch) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "dynamic sampling kept ", kept_, " of ", target_, " groups after ", gen_batches_,
      " generation rounds (", dropped_,
      " groups had all-equal rewards); raise algorithm.filter_groups.max_num_gen_batches "
      "or set algorithm.filter_groups.allow_partial_batch: true"));
}

std::map<std::string, double> GroupFilter::Metrics() const {
  const int64_t offered = kept_ + dropped_;
  return {
      {"dynamic_sampling/drop_rate", offered > 0 ? static_cast<double>(dropped_) / offered : 0.0},
      {"dynamic_sampling/dropped_groups", static_cast<double>(dropped_)},
      {"dynamic_sampling/kept_groups", static_cast<double>(kept_)},
      {"dynamic_sampling/surplus_groups", static_cast<double>(surplus_)},
      {"dynamic_sampling/gen_batches", static_cast<double>(gen_batches_)},
      {"dynamic_sampling/partial_batch", full() ? 0.0 : 1.0},
      {"dynamic_sampling/total_drop_rate",
       total_offered_ > 0 ? static_cast<double>(total_dropped_) / total_offered_ : 0.0},
  };
}

std::string GroupFilter::SaveState() const {
  return nlohmann::json{{"total_offered", total_offered_}, {"total_dropped", total_dropped_}}
      .dump();
}

absl::Status GroupFilter::LoadState(const std::string& state) {
  try {
    nlohmann::json j = nlohmann::json::parse(state);
    int64_t offered = j.at("total_offered").get<int64_t>();
    int64_t dropped = j.at("total_dropped").get<int64_t>();
    if (offered < 0 || dropped < 0 || dropped > offered) {
      return absl::InvalidArgumentError(
          absl::StrCat("dynamic sampling state has inconsistent counts (offered ", offered,
                       ", dropped ", dropped, ")"));
    }
    total_offered_ = offered;
    total_dropped_ = dropped;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("dynamic sampling state is not valid: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace ponder::trainer
