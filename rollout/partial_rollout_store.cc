#include "rollout/partial_rollout_store.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"

namespace ponder::rollout {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormatVersion = 1;

json SamplingToJson(const SamplingOptions& s) {
  return json{{"temperature", s.temperature},
              {"top_p", s.top_p},
              {"top_k", s.top_k},
              {"min_p", s.min_p},
              {"repetition_penalty", s.repetition_penalty},
              {"max_new_tokens", s.max_new_tokens},
              {"stop_token_ids", s.stop_token_ids},
              {"stop_strings", s.stop_strings},
              {"seed", s.seed},
              {"repeat_ngram", s.repeat_ngram},
              {"repeat_count", s.repeat_count},
              {"round_token_budget", s.round_token_budget}};
}

SamplingOptions SamplingFromJson(const json& j) {
  SamplingOptions s;
  s.temperature = j.at("temperature").get<double>();
  s.top_p = j.at("top_p").get<double>();
  s.top_k = j.at("top_k").get<int64_t>();
  s.min_p = j.at("min_p").get<double>();
  s.repetition_penalty = j.at("repetition_penalty").get<double>();
  s.max_new_tokens = j.at("max_new_tokens").get<int64_t>();
  s.stop_token_ids = j.at("stop_token_ids").get<std::vector<int32_t>>();
  s.stop_strings = j.at("stop_strings").get<std::vector<std::string>>();
  s.seed = j.at("seed").get<uint64_t>();
  s.repeat_ngram = j.at("repeat_ngram").get<int64_t>();
  s.repeat_count = j.at("repeat_count").get<int64_t>();
  s.round_token_budget = j.at("round_token_budget").get<int64_t>();
  return s;
}

}  // namespace

std::string PartialRolloutStore::ToJson(const PausedRollout& r) {
  json segments = json::array();
  for (const Segment& s : r.segments) segments.push_back({s.weight_version, s.begin, s.end});
  json j{{"format", kFormatVersion},
         {"prompt_index", r.prompt_index},
         {"sample_index", r.sample_index},
         {"prompt", r.prompt},
         {"sampling", SamplingToJson(r.sampling)},
         {"token_ids", r.token_ids},
         {"logprobs", r.logprobs},
         {"segments", segments},
         {"return_text", r.return_text},
         {"rounds", r.rounds}};
  return j.dump() + "\n";
}

absl::StatusOr<PausedRollout> PartialRolloutStore::FromJson(const std::string& text,
                                                            const std::string& where) {
  PausedRollout r;
  try {
    const json j = json::parse(text);
    if (j.at("format").get<int>() != kFormatVersion) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown format ",
                                                     j.at("format").dump(), " (this build reads ",
                                                     kFormatVersion, ")"));
    }
    r.prompt_index = j.at("prompt_index").get<uint64_t>();
    r.sample_index = j.at("sample_index").get<uint32_t>();
    r.prompt = j.at("prompt").get<std::vector<int32_t>>();
    r.sampling = SamplingFromJson(j.at("sampling"));
    r.token_ids = j.at("token_ids").get<std::vector<int32_t>>();
    r.logprobs = j.at("logprobs").get<std::vector<float>>();
    for (const json& s : j.at("segments")) {
      r.segments.push_back(
          {s.at(0).get<int64_t>(), s.at(1).get<uint32_t>(), s.at(2).get<uint32_t>()});
    }
    r.return_text = j.at("return_text").get<bool>();
    r.rounds = j.at("rounds").get<int64_t>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a paused rollout: ", e.what()));
  }
  if (r.prompt.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty prompt"));
  if (r.logprobs.size() != r.token_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", r.token_ids.size(), " token_ids but ", r.logprobs.size(), " logprobs"));
  }
  uint32_t covered = 0;
  for (const Segment& s : r.segments) {
    if (s.begin != covered || s.end <= s.begin) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": segments must cover the tokens in order without gaps"));
    }
    covered = s.end;
  }
  if (covered != r.token_ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": segments cover ", covered, " of ", r.token_ids.size(), " tokens"));
  }
  const std::string problem = r.sampling.FirstProblem();
  if (!problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": sampling.", problem));
  }
  return r;
}

absl::StatusOr<std::unique_ptr<PartialRolloutStore>> PartialRolloutStore::Open(
    const std::string& dir) {
  std::unique_ptr<PartialRolloutStore> store(new PartialRolloutStore(dir));
  if (dir.empty()) return store;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partial rollout store: cannot create the directory ", dir, ": ", ec.message()));
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, "paused-")) continue;
    if (absl::EndsWith(name, ".tmp")) {  // a write that did not complete
      fs::remove(entry.path(), ec);
      continue;
    }
    if (!absl::EndsWith(name, ".json")) continue;
    absl::StatusOr<std::string> text = file::ReadFile(entry.path().string());
    if (!text.ok()) return Annotate(text.status(), "partial rollout store");
    absl::StatusOr<PausedRollout> r = FromJson(*text, entry.path().string());
    if (!r.ok()) return r.status();
    const Key key{r->prompt_index, r->sample_index};
    if (entry.path().string() != store->PathFor(key)) {
      return absl::InvalidArgumentError(absl::StrCat(entry.path().string(), ": holds prompt_index ",
                                                     key.first, ", sample_index ", key.second,
                                                     ", which belong in ", store->PathFor(key)));
    }
    store->waiting_.emplace(key, std::move(*r));
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("partial rollout store: cannot list ", dir, ": ", ec.message()));
  }
  return store;
}

std::string PartialRolloutStore::PathFor(const Key& key) const {
  return (fs::path(dir_) / absl::StrCat("paused-", key.first, "-", key.second, ".json")).string();
}

absl::Status PartialRolloutStore::Put(PausedRollout rollout) {
  const Key key{rollout.prompt_index, rollout.sample_index};
  if (!dir_.empty()) {
    absl::Status s = file::WriteFileAtomically(PathFor(key), ToJson(rollout));
    if (!s.ok()) return s;
  }
  in_flight_.erase(key);
  waiting_[key] = std::move(rollout);
  return absl::OkStatus();
}

std::vector<PausedRollout> PartialRolloutStore::TakeWaiting() {
  std::vector<PausedRollout> out;
  out.reserve(waiting_.size());
  for (auto& [key, rollout] : waiting_) {
    in_flight_.insert(key);
    out.push_back(std::move(rollout));
  }
  waiting_.clear();
  return out;
}

absl::Status PartialRolloutStore::Remove(const Key& key) {
  waiting_.erase(key);
  in_flight_.erase(key);
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove(PathFor(key), ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot delete ", PathFor(key), ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

bool PartialRolloutStore::HasPrompt(uint64_t prompt_index) const {
  auto w = waiting_.lower_bound({prompt_index, 0});
  if (w != waiting_.end() && w->first.first == prompt_index) return true;
  auto f = in_flight_.lower_bound({prompt_index, 0});
  return f != in_flight_.end() && f->first == prompt_index;
}

}  // namespace ponder::rollout
