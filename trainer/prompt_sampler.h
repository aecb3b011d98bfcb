// Prompt samplers: which dataset prompts go into each training step.
//
//   uniform      every prompt once per epoch, in an order reshuffled each epoch (or dataset
//                order with shuffle: false); resumable mid-epoch.
//   curriculum   by difficulty level, following a schedule of stages:
//                  curriculum:
//                    - {until_step: 50, levels: [1]}
//                    - {until_step: 200, levels: [1, 2], weights: [1, 3]}
//                    - {levels: [3]}            # the last stage lasts to the end
//                at step s the first stage with s < until_step applies; each draw picks a level
//                by weight, then the next prompt of that level (epoch-shuffled per level).
//   prioritized  Kimi k1.5: prompt i is drawn with probability proportional to
//                max(1 - s_i, floor), s_i its success rate so far (Observe); draws are
//                independent (with replacement). Unseen prompts have s_i = initial_success.
//                With success_decay d < 1 older observations fade: counts are multiplied by
//                d before each new observation is added.
//
// Every sampler saves its complete state (RNG, positions, statistics) as JSON text; loading it
// into a sampler made with the same options and dataset continues the exact same stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::trainer {

struct CurriculumStage {
  int64_t until_step = 0;  // the stage applies while step < until_step; 0: to the end (last)
  std::vector<int64_t> levels;
  std::vector<double> weights;  // one per level; empty: equal weights

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// `data.sampler:`
struct SamplerOptions {
  std::string name = "uniform";  // uniform | curriculum | prioritized
  bool shuffle = true;           // uniform and curriculum: reshuffle every epoch
  std::vector<CurriculumStage> curriculum;
  double floor = 0.05;           // prioritized: least weight of a prompt
  double success_decay = 1.0;    // prioritized: 1 = plain success rate over all attempts
  double initial_success = 0.0;  // prioritized: s_i of a prompt never tried

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

class PromptSampler {
 public:
  virtual ~PromptSampler() = default;
  virtual std::string name() const = 0;

  // Dataset indices of `count` prompts for training step `step` (0-based).
  virtual std::vector<int64_t> Sample(int64_t count, int64_t step) = 0;

  // Feedback after scoring: prompt `index` had `successes` successes (may be fractional,
  // e.g. a mean score) in `attempts` attempts. Used by the prioritized sampler.
  virtual void Observe(int64_t index, double successes, int64_t attempts) {}

  // The complete state, as JSON text; LoadState restores it exactly. LoadState checks that
  // the state belongs to this kind of sampler and a dataset of the same size, and names what
  // differs when it does not.
  virtual std::string SaveState() const = 0;
  virtual absl::Status LoadState(const std::string& state) = 0;
};

// Builds the sampler named by `options.name` over a dataset whose prompts have `levels`
// (one entry per prompt; only the curriculum sampler reads them). Errors name the option.
absl::StatusOr<std::unique_ptr<PromptSampler>> MakePromptSampler(const SamplerOptions& options,
                                                                 const std::vector<int64_t>& levels,
                                                                 uint64_t seed);

}  // namespace ponder::trainer
