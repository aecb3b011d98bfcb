#include "trainer/rollout_round.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::trainer {
namespace {

bool SkipBad(const RoundContext& context) {
  return context.job->data.on_bad_sample == BadSamplePolicy::kSkip;
}

// Why `record` (encoded as `ids`) cannot be generated from; empty when it can.
std::string PromptProblem(const RoundContext& context, const PromptRecord& record,
                          const absl::StatusOr<std::vector<int32_t>>& ids) {
  if (!ids.ok()) return std::string(ids.status().message());
  const int64_t max_new_tokens = context.sampling->max_new_tokens;
  if (static_cast<int64_t>(ids->size()) + max_new_tokens > context.max_seq_len) {
    return absl::StrCat("prompt ", record.origin, " has ", ids->size(),
                        " tokens; with rollout.sampling.max_new_tokens ", max_new_tokens,
                        " it exceeds the context of ", context.max_seq_len,
                        " tokens (rollout.max_seq_len)");
  }
  return "";
}

// Fills in the prompt of the group of `uid` (at its first sample) from the prompt's record.
absl::Status StartGroup(const RoundContext& context, const rollout::GenerateRequest& request,
                        const PromptRecord& record, uint64_t uid, Group* group,
                        monitor::Metrics* counts) {
  group->uid = uid;
  group->index = static_cast<int64_t>(&record - &(*context.train)[0]);
  PONDER_ASSIGN_OR_RETURN(group->prompt, context.encoder->PromptText(record));
  for (const rollout::PromptRequest& p : request.prompts) {
    if (p.prompt_index == uid) {
      group->prompt_ids = p.token_ids;
      return absl::OkStatus();
    }
  }
  // A partial rollout resumed from an earlier step.
  PONDER_ASSIGN_OR_RETURN(group->prompt_ids, context.encoder->Encode(record));
  (*counts)["rollout/resumed"] += 1;
  return absl::OkStatus();
}

}  // namespace

uint64_t MixSeed(uint64_t base, uint64_t index) {
  uint64_t z = base + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

absl::StatusOr<rollout::GenerateRequest> IssuePrompts(const RoundContext& context,
                                                      const std::vector<int64_t>& indices,
                                                      int64_t step, int64_t round,
                                                      PromptsInFlight* prompts,
                                                      monitor::Metrics* counts) {
  const JobConfig& job = *context.job;
  rollout::GenerateRequest request;
  request.request_id = absl::StrCat(job.run.name, "-step", step + 1, "-round", round);
  request.resume_paused = context.sampling->round_token_budget > 0;
  for (int64_t index : indices) {
    const PromptRecord& record = (*context.train)[static_cast<size_t>(index)];
    absl::StatusOr<std::vector<int32_t>> ids = context.encoder->Encode(record);
    const std::string problem = PromptProblem(context, record, ids);
    if (!problem.empty()) {
      if (!SkipBad(context)) {
        return absl::InvalidArgumentError(absl::StrCat(
            problem, " (set data.on_bad_sample: skip to skip and count such prompts)"));
      }
      spdlog::warn("skipping: {}", problem);
      (*counts)["data/skipped_prompts"] += 1;
      continue;
    }
    const uint64_t uid = prompts->next_uid++;
    prompts->pending[uid] = {index, job.rollout.n};
    rollout::SamplingOptions sampling = *context.sampling;
    sampling.seed = MixSeed(static_cast<uint64_t>(job.run.seed), uid);
    request.prompts.push_back(
        {uid, std::move(*ids), static_cast<uint32_t>(job.rollout.n), sampling});
  }
  return request;
}

absl::StatusOr<std::vector<Group>> GroupTrajectories(const RoundContext& context,
                                                     const rollout::GenerateRequest& request,
                                                     std::vector<rollout::Trajectory> trajectories,
                                                     PromptsInFlight* prompts,
                                                     monitor::Metrics* counts) {
  std::sort(trajectories.begin(), trajectories.end(), [](const auto& a, const auto& b) {
    return std::tie(a.prompt_index, a.sample_index) < std::tie(b.prompt_index, b.sample_index);
  });
  std::map<uint64_t, Group> by_uid;
  for (rollout::Trajectory& t : trajectories) {
    (*counts)["rollout/generated_tokens"] += static_cast<double>(t.token_ids.size());
    if (t.finish_reason == rollout::FinishReason::kPaused) {
      (*counts)["rollout/paused"] += 1;
      continue;
    }
    if (t.finish_reason == rollout::FinishReason::kAborted) {
      return absl::AbortedError(
          absl::StrCat("rollout aborted sample ", t.sample_index, " of prompt ", t.prompt_index));
    }
    auto pending = prompts->pending.find(t.prompt_index);
    if (pending == prompts->pending.end()) {
      return absl::InternalError(
          absl::StrCat("rollout returned a sample of unknown prompt ", t.prompt_index));
    }
    const PromptRecord& record = (*context.train)[static_cast<size_t>(pending->second.first)];
    if (--pending->second.second == 0) prompts->pending.erase(pending);
    Group& group = by_uid[t.prompt_index];
    if (group.samples.empty()) {
      PONDER_RETURN_IF_ERROR(StartGroup(context, request, record, t.prompt_index, &group, counts));
    }
    ScoredSample sample;
    PONDER_ASSIGN_OR_RETURN(sample.response, context.encoder->DecodeResponse(t.token_ids));
    sample.trajectory = std::move(t);
    group.samples.push_back(std::move(sample));
  }
  std::vector<Group> groups;
  for (auto& [uid, group] : by_uid) groups.push_back(std::move(group));
  return groups;
}

absl::Status ScoreGroups(const RoundContext& context, reward::RewardBackend& reward,
                         std::vector<Group>* groups, monitor::Metrics* counts) {
  std::vector<reward::VerifyInput> items;
  for (const Group& group : *groups) {
    const PromptRecord& record = (*context.train)[static_cast<size_t>(group.index)];
    for (const ScoredSample& sample : group.samples) {
      items.push_back(
          {.prompt = group.prompt,
           .response = sample.response,
           .ground_truth = record.ground_truth,
           .metadata = record.extra_info.is_object() ? record.extra_info : nlohmann::json::object(),
           .data_source = record.data_source});
    }
  }
  PONDER_ASSIGN_OR_RETURN(std::vector<reward::ItemResult> results, reward.Score(items, {}));
  size_t next = 0;
  for (Group& group : *groups) {
    std::vector<ScoredSample> scored;
    for (ScoredSample& sample : group.samples) {
      reward::ItemResult& result = results[next++];
      if (result.status.ok()) {
        sample.result = std::move(result.result);
        scored.push_back(std::move(sample));
        continue;
      }
      const PromptRecord& record = (*context.train)[static_cast<size_t>(group.index)];
      const std::string problem =
          absl::StrCat("scoring sample ", sample.trajectory.sample_index, " of prompt ",
                       record.origin, ": ", result.status.message());
      if (!SkipBad(context)) {
        return absl::InvalidArgumentError(absl::StrCat(
            problem, " (set data.on_bad_sample: skip to skip and count such samples)"));
      }
      spdlog::warn("skipping: {}", problem);
      (*counts)["reward/errors"] += 1;
    }
    group.samples = std::move(scored);
  }
  groups->erase(std::remove_if(groups->begin(), groups->end(),
                               [](const Group& g) { return g.samples.empty(); }),
                groups->end());
  return absl::OkStatus();
}

}  // namespace ponder::trainer
