#include "trainer/step_metrics.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "trainer/evaluation.h"

namespace ponder::trainer {

TrainingBatch KeptSamples(const std::vector<Group>& groups) {
  TrainingBatch batch;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!groups[g].kept) continue;
    for (size_t s = 0; s < groups[g].samples.size(); ++s) {
      const ScoredSample& sample = groups[g].samples[s];
      const rollout::Trajectory& t = sample.trajectory;
      batch.trajectories.push_back({.prompt_ids = groups[g].prompt_ids,
                                    .response_ids = t.token_ids,
                                    .behaviour_log_probs = t.logprobs,
                                    .score = sample.result.score,
                                    .correct = sample.result.correct,
                                    .truncated = t.finish_reason == rollout::FinishReason::kLength,
                                    .group = static_cast<int64_t>(g)});
      batch.position.emplace_back(g, s);
    }
  }
  return batch;
}

void AddSampleMetrics(const std::vector<Group>& groups, monitor::Metrics* metrics) {
  monitor::Metrics& m = *metrics;
  std::vector<double> lengths, scores;
  std::map<std::string, std::vector<double>> components;
  int64_t truncated = 0, correct = 0, zero_std = 0;
  for (const Group& group : groups) {
    std::vector<double> group_scores;
    for (const ScoredSample& s : group.samples) {
      lengths.push_back(static_cast<double>(s.trajectory.token_ids.size()));
      scores.push_back(s.result.score);
      group_scores.push_back(s.result.score);
      for (const auto& [name, value] : s.result.components) components[name].push_back(value);
      truncated += s.trajectory.finish_reason == rollout::FinishReason::kLength ? 1 : 0;
      correct += IsCorrect(s.result) ? 1 : 0;
    }
    const auto [lo, hi] = std::minmax_element(group_scores.begin(), group_scores.end());
    zero_std += *lo == *hi ? 1 : 0;
  }
  const double n = static_cast<double>(std::max<size_t>(lengths.size(), 1));
  monitor::AddSummary(m, "rollout/response_len", lengths);
  m["rollout/truncation_rate"] = static_cast<double>(truncated) / n;
  monitor::AddMeanStd(m, "reward/score", scores);
  for (const auto& [name, values] : components) {
    double sum = 0;
    for (double v : values) sum += v;
    m[absl::StrCat("reward/", name, "/mean")] = sum / static_cast<double>(values.size());
  }
  m["reward/accuracy"] = static_cast<double>(correct) / n;
  m["reward/zero_std_group_frac"] =
      groups.empty() ? 0 : static_cast<double>(zero_std) / static_cast<double>(groups.size());
}

void DropStaleSamples(int64_t trainer_version, int64_t max_staleness, std::vector<Group>* groups,
                      monitor::Metrics* metrics) {
  monitor::Metrics& m = *metrics;
  std::vector<double> staleness, versions;
  std::vector<double> histogram(static_cast<size_t>(max_staleness) + 1, 0.0);
  double dropped = 0;
  for (Group& group : *groups) {
    std::vector<ScoredSample> kept;
    for (ScoredSample& sample : group.samples) {
      const rollout::Trajectory& t = sample.trajectory;
      int64_t oldest = t.weight_version;
      std::vector<int64_t> seen;
      for (const rollout::Segment& s : t.segments) {
        oldest = std::min(oldest, s.weight_version);
        if (std::find(seen.begin(), seen.end(), s.weight_version) == seen.end()) {
          seen.push_back(s.weight_version);
        }
      }
      const int64_t behind = trainer_version - oldest;
      if (behind > max_staleness) {
        dropped += 1;
        continue;
      }
      staleness.push_back(static_cast<double>(behind));
      versions.push_back(static_cast<double>(std::max<size_t>(seen.size(), 1)));
      histogram[static_cast<size_t>(std::max<int64_t>(behind, 0))] += 1;
      kept.push_back(std::move(sample));
    }
    group.samples = std::move(kept);
  }
  groups->erase(std::remove_if(groups->begin(), groups->end(),
                               [](const Group& g) { return g.samples.empty(); }),
                groups->end());
  m["rollout/dropped_stale"] = dropped;
  monitor::AddSummary(m, "rollout/staleness", staleness);
  monitor::AddSummary(m, "rollout/versions_per_sample", versions);
  for (size_t k = 0; k < histogram.size(); ++k) {
    m[absl::StrCat("rollout/staleness/count_", k)] = histogram[k];
  }
}

std::vector<monitor::SampleRecord> SampleRecords(int64_t step, const std::vector<Group>& groups,
                                                 const TrainingBatch& batch,
                                                 const PromptDataset& train,
                                                 const std::vector<double>& shaped_scores,
                                                 const std::vector<double>& advantages,
                                                 int64_t max_samples) {
  std::vector<monitor::SampleRecord> out;
  for (size_t b = 0; b < batch.position.size(); ++b) {
    if (max_samples >= 0 && static_cast<int64_t>(out.size()) >= max_samples) break;
    const auto [g, s] = batch.position[b];
    const Group& group = groups[g];
    const ScoredSample& sample = group.samples[s];
    const rollout::Trajectory& t = sample.trajectory;
    const PromptRecord& record = train[static_cast<size_t>(group.index)];
    monitor::SampleRecord r;
    r.step = step;
    r.prompt_uid = group.uid;
    r.origin = record.origin;
    r.data_source = record.data_source;
    r.sample_index = t.sample_index;
    r.prompt = group.prompt;
    r.response = sample.response;
    r.ground_truth = record.ground_truth;
    r.score = sample.result.score;
    r.shaped_score = shaped_scores[b];
    r.correct = sample.result.correct;
    r.components = sample.result.components;
    r.details = sample.result.details;
    r.advantage = advantages[b];
    r.finish_reason = rollout::FinishReasonName(t.finish_reason);
    r.response_tokens = static_cast<int64_t>(t.token_ids.size());
    r.weight_version = t.weight_version;
    for (const rollout::Segment& seg : t.segments) {
      r.segments.push_back({seg.weight_version, seg.begin, seg.end});
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ponder::trainer
