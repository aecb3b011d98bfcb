// From the groups of an RL step to what the learner trains on and what the run directory
// shows: the training batch, the rollout and reward metrics of the step, and its sample
// records (monitor/sample_record.h).
//
// Metrics over every scored sample of the step (kept by dynamic sampling or not):
//   rollout/response_len/{mean,max,min}, rollout/truncation_rate, reward/score/{mean,std},
//   reward/<verifier>/mean, reward/accuracy, reward/zero_std_group_frac.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "monitor/metrics.h"
#include "monitor/sample_record.h"
#include "trainer/dataset.h"
#include "trainer/rollout_round.h"
#include "trainer/trajectory.h"

namespace ponder::trainer {

// The samples of the kept groups, in group order; `position[b]` = (group, sample) of entry b.
struct TrainingBatch {
  std::vector<Trajectory> trajectories;
  std::vector<std::pair<size_t, size_t>> position;
};
TrainingBatch KeptSamples(const std::vector<Group>& groups);

// Adds the rollout and reward metrics above.
void AddSampleMetrics(const std::vector<Group>& groups, monitor::Metrics* metrics);

// Async mode: drops the samples whose oldest token is more than `max_staleness` versions
// behind `trainer_version` (the version the step trains with), counting them in
// rollout/dropped_stale, and removes groups left empty. Over the samples kept it adds
// rollout/staleness/{mean,max,min} (versions behind, from the oldest token), the histogram
// rollout/staleness/count_<k> for k = 0..max_staleness, and
// rollout/versions_per_sample/{mean,max,min} (versions a sample's tokens came from).
void DropStaleSamples(int64_t trainer_version, int64_t max_staleness, std::vector<Group>* groups,
                      monitor::Metrics* metrics);

// Records of the batch's samples (at most `max_samples` when >= 0) for step `step` (from 1),
// with each sample's shaped score and advantage from the learner.
std::vector<monitor::SampleRecord> SampleRecords(int64_t step, const std::vector<Group>& groups,
                                                 const TrainingBatch& batch,
                                                 const PromptDataset& train,
                                                 const std::vector<double>& shaped_scores,
                                                 const std::vector<double>& advantages,
                                                 int64_t max_samples);

}  // namespace ponder::trainer
