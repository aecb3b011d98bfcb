// What the phases of Learner::Step share (learner.h): the learner's state (Learner::Impl) and
// one step's tensors (StepData). The phases live in three files: learner.cc (creation,
// validation, the step's order, state), learner_terms.cc (phases 1-4: reference terms, score
// shaping, advantages, loss inputs) and learner_update.cc (phase 5: the policy and critic
// updates, and the policy's loss terms composed in one place).
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/advantage_estimator.h"
#include "trainer/batching.h"
#include "trainer/data_parallel.h"
#include "trainer/gradient_reducer.h"
#include "trainer/learner.h"
#include "trainer/losses.h"
#include "trainer/optimizer.h"
#include "trainer/packed_batch.h"
#include "trainer/policy_loss.h"
#include "trainer/rollout_correction.h"

namespace ponder::trainer {
namespace internal {

using Clock = std::chrono::steady_clock;

inline double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Running means of metrics over the updates of one step.
class MetricMeans {
 public:
  void Add(const std::string& name, double value) {
    auto& [sum, n] = sums_[name];
    sum += value;
    ++n;
  }
  void Into(std::map<std::string, double>& out) const {
    for (const auto& [name, s] : sums_) out[name] = s.first / s.second;
  }

 private:
  std::map<std::string, std::pair<double, int64_t>> sums_;
};

// Mean of `x` over the mask positions.
inline double MaskedMean(const at::Tensor& x, const at::Tensor& mask) {
  return (x * mask).sum().item<double>() / mask.sum().item<double>();
}

// What the phases of one step share.
struct StepData {
  const std::vector<Trajectory>* batch = nullptr;
  PackedBatch b;
  at::Tensor behaviour;   // [B, T] the rollout's log-probs (undefined unless every sample has them)
  at::Tensor old_logp;    // [B, T] pi_old
  at::Tensor ref_logp;    // [B, T] the reference's, when a KL term needs it
  at::Tensor old_values;  // [B, T] the critic's, with a critic
  std::vector<double> scores;  // after group shaping
  std::vector<bool> correct;
  std::vector<int64_t> group_ids;
  Advantages adv;
  at::Tensor loss_mask;  // [B, T] tokens that enter the losses
  at::Tensor weights;    // [B, T] per-token policy-gradient weights (rollout correction)
  at::Tensor positive;   // [B] samples marked correct (positive-example NLL)
  // Rows whose per-token values the step returns, and the entropies of those rows from their
  // first policy-update forward pass, taken as the update goes (UpdatePolicy).
  std::vector<int64_t> detail_rows;
  mutable std::map<int64_t, std::vector<float>> detail_entropy;
};

// Keeps, for the rows of `rows` (one micro-batch) that are in d.detail_rows and have none yet,
// their entropies from `entropy` ([rows, T], the micro-batch's forward pass).
void KeepDetailEntropy(const StepData& d, const std::vector<int64_t>& rows,
                       const at::Tensor& entropy);

// The summed loss of one micro-batch and the metrics of its terms.
struct LossTerms {
  at::Tensor total;
  std::map<std::string, double> sums;
};

// Where an update's time went, and the tokens it processed.
struct UpdateCounters {
  int64_t train_tokens = 0;
  double forward_s = 0, backward_s = 0, optimizer_s = 0;
};

}  // namespace internal

struct Learner::Impl {
  using StepData = internal::StepData;
  using LossTerms = internal::LossTerms;
  using UpdateCounters = internal::UpdateCounters;
  using MetricMeans = internal::MetricMeans;

  AlgorithmOptions algo;
  TrainerOptions opts;
  LearnerOptions lopts;
  TrainablePolicy* policy = nullptr;
  TrainablePolicy* reference = nullptr;
  ValueModel* critic = nullptr;
  std::unique_ptr<PolicyLoss> loss;
  std::unique_ptr<AdvantageEstimator> estimator;
  std::unique_ptr<RolloutCorrection> correction;  // null: none
  std::unique_ptr<OptimizerStep> policy_opt;
  std::unique_ptr<OptimizerStep> critic_opt;  // with a critic
  std::mt19937_64 rng;
  at::ScalarType dtype = at::kFloat;
  c10::Device device = c10::kCPU;
  DataParallel* dp = nullptr;  // several trainer ranks (data_parallel.h); null: one
  std::unique_ptr<GradientReducer> policy_reducer;  // with dp
  std::unique_ptr<GradientReducer> critic_reducer;  // with dp and a critic

  absl::Status Validate(const std::vector<Trajectory>& batch) const;
  absl::Status ReferenceTerms(StepData& d, LearnerStep& out) const;
  absl::Status ShapeScores(StepData& d, int64_t step, LearnerStep& out) const;
  absl::Status EstimateAdvantages(StepData& d, LearnerStep& out) const;
  absl::Status LossInputs(StepData& d, LearnerStep& out) const;
  absl::Status Update(const StepData& d, int64_t step, LearnerStep& out, UpdateCounters& counters);
  absl::StatusOr<LearnerStep> RunStep(const std::vector<Trajectory>& batch, int64_t step,
                                      const std::vector<int64_t>& detail_rows);
  std::vector<RowTokenDetail> TokenDetails(const StepData& d) const;
  absl::Status UpdatePolicy(const StepData& d, const std::vector<std::vector<int64_t>>& micros,
                            const LossScale& scale, MetricMeans& means, UpdateCounters& counters);
  absl::StatusOr<LossTerms> PolicyLossTerms(const StepData& d, const std::vector<int64_t>& rows,
                                            const RowScores& scored, const LossScale& scale) const;
  absl::Status UpdateCritic(const StepData& d, const std::vector<std::vector<int64_t>>& micros,
                            const LossScale& scale, MetricMeans& means);

  // The rows of `rows` this rank computes: all of them, or its share on several ranks.
  std::vector<int64_t> Mine(const std::vector<int64_t>& rows, const PackedBatch& b) const {
    return dp != nullptr ? dp->Share(rows, b.lengths) : rows;
  }
  // A no-grad pass over the batch (FillAll), or over this rank's share (DataParallel::Fill).
  absl::StatusOr<at::Tensor> Fill(const PackedBatch& b, const char* what, const RowsFn& fn) const {
    return dp != nullptr ? dp->Fill(b, opts.max_tokens_per_micro_batch, fn, what)
                         : FillAll(b, opts.max_tokens_per_micro_batch, fn);
  }

  double NormConstant() const {
    return algo.loss_scale_factor > 0 ? algo.loss_scale_factor
                                      : static_cast<double>(lopts.max_response_length);
  }
};

}  // namespace ponder::trainer
