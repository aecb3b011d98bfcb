// Evaluation on held-out prompts: k samples per prompt for mean@k and pass@k, a greedy
// answer for greedy accuracy, response lengths and the truncation rate.
//
//   eval:
//     every: 50            # RL steps between evaluations (0: none during training)
//     before_train: false  # also once before the first step (metrics at step 0)
//     at_end: true         # and once after the last step
//     k: 4                 # samples per prompt (mean@k, pass@k)
//     temperature: 1.0     # of the k samples
//     greedy: true         # also one greedy answer per prompt (greedy accuracy)
//     max_prompts: 200     # the first N held-out prompts (0: all)
//     max_new_tokens: 0    # 0: rollout.sampling.max_new_tokens
//
// A sample counts as correct when its verifier says so; for a verifier without a verdict,
// when its score is positive. mean@k is the fraction of the k samples that are correct,
// averaged over prompts; pass@k is the unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et
// al. 2021) with n = k samples of which c are correct (so it is 1 when any sample is correct).
// Metrics are named `val/<set>/mean@<k>`, `val/<set>/pass@<k>`, `val/<set>/greedy_acc`,
// `val/<set>/score/mean`, `val/<set>/response_len/{mean,max,min}`, `val/<set>/truncation_rate`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "monitor/metrics.h"
#include "monitor/sample_record.h"
#include "reward/reward_backend.h"
#include "rollout/rollout.h"
#include "trainer/dataset.h"
#include "trainer/prompt_encoder.h"

namespace ponder::trainer {

struct EvalOptions {
  int64_t every = 0;
  bool before_train = false;
  bool at_end = true;
  int64_t k = 4;
  double temperature = 1.0;
  bool greedy = true;
  int64_t max_prompts = 200;
  int64_t max_new_tokens = 0;

  void Bind(config::Binder& b);
};

// The unbiased pass@k estimate from n samples of which c are correct: 1 - C(n-c, k)/C(n, k),
// computed as 1 - prod_{i=n-c+1..n} (1 - k/i). InvalidArgument unless 0 <= c <= n and
// 1 <= k <= n.
absl::StatusOr<double> PassAtK(int64_t n, int64_t c, int64_t k);

// Whether a scored sample counts as correct (see above).
bool IsCorrect(const reward::VerifyResult& result);

struct EvalSet {
  std::string name;  // the metric prefix: val/<name>/...
  PromptDataset prompts;
};

// What an evaluation needs from the job: where to generate and score, and with what limits.
struct EvalContext {
  rollout::RolloutBackend* rollout = nullptr;
  reward::RewardBackend* reward = nullptr;
  const PromptEncoder* encoder = nullptr;
  rollout::SamplingOptions sampling;  // the rollout's; temperature and n come from EvalOptions
  int64_t max_seq_len = 0;            // prompts that leave no room for max_new_tokens fail
};

struct EvalReport {
  monitor::Metrics metrics;
  std::vector<monitor::SampleRecord> samples;  // one per generated response, greedy ones marked
};

// Evaluates `set`; `seed` makes the sampled responses reproducible. A prompt that cannot be
// encoded or is too long is an error naming it; a response the verifier cannot score is
// counted as incorrect and reported in `val/<set>/reward_errors` and in its sample.
absl::StatusOr<EvalReport> Evaluate(const EvalSet& set, const EvalOptions& options,
                                    const EvalContext& context, uint64_t seed);

}  // namespace ponder::trainer
