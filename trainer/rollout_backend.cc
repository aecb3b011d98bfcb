#include "trainer/rollout_backend.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/status.h"
#include "rollout/engine.h"
#include "rollout/worker_pool.h"
#include "rpc/security.h"
#include "trainer/model_setup.h"
#include "trainer/worker_engine.h"

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;

// The engine shares the trainer's model: new weights are already in place.
class SharedWeights : public WeightSync {
 public:
  explicit SharedWeights(rollout::RolloutEngine* engine) : engine_(engine) {}
  absl::Status Push(int64_t version) override { return engine_->AdvanceVersion(version); }

 private:
  rollout::RolloutEngine* engine_;
};

rollout::WeightDType WireDType(at::ScalarType type) {
  switch (type) {
    case at::kHalf:
      return rollout::WeightDType::kF16;
    case at::kBFloat16:
      return rollout::WeightDType::kBF16;
    case at::kDouble:
      return rollout::WeightDType::kF64;
    default:
      return rollout::WeightDType::kF32;
  }
}

// Sends every parameter of the policy to the pool of remote workers.
class PushedWeights : public WeightSync {
 public:
  PushedWeights(rollout::RolloutBackend* backend, model::Decoder policy)
      : backend_(backend), policy_(std::move(policy)) {}

  absl::Status Push(int64_t version) override {
    std::vector<rollout::WeightTensor> tensors;
    for (const auto& item : policy_->named_parameters()) {
      auto t = std::make_shared<at::Tensor>(item.value().detach().to(at::kCPU).contiguous());
      tensors.push_back({.name = item.key(),
                         .dtype = WireDType(t->scalar_type()),
                         .shape = t->sizes().vec(),
                         .data = t->data_ptr(),
                         .bytes = t->nbytes(),
                         .owner = t});
    }
    return backend_->UpdateWeights(version, tensors);
  }

 private:
  rollout::RolloutBackend* backend_;
  model::Decoder policy_;
};

// `keep_partials`: paused partial rollouts live in the run directory, for checkpoints.
absl::StatusOr<RolloutConnection> StartEngine(const JobConfig& job, const model::Decoder& policy,
                                              std::shared_ptr<const model::Tokenizer> tokenizer,
                                              int64_t version, bool keep_partials) {
  rollout::EngineOptions options = rollout::EngineOptions::FromConfig(job.rollout);
  options.initial_version = version;
  options.model_name = job.model.path;
  RolloutConnection out;
  if (!keep_partials) {
    options.partial_store_dir.clear();
  } else if (options.partial_store_dir.empty() && job.rollout.sampling.round_token_budget > 0) {
    options.partial_store_dir = RunPartialRolloutsDir(job.run.dir);
    out.partial_rollouts_dir = options.partial_store_dir;
  }
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<rollout::RolloutEngine> engine,
                          rollout::RolloutEngine::Create(policy.ptr(), options, tokenizer));
  out.max_seq_len = engine->max_seq_len();
  out.weights = std::make_unique<SharedWeights>(engine.get());
  out.backend = std::move(engine);
  return out;
}

rollout::PoolOptions PoolOptionsFor(const rollout::RolloutOptions& rollout) {
  rollout::PoolOptions options;
  options.addresses = rollout.addresses;
  options.client.token = rpc::TokenFrom("", "PONDER_ROLLOUT_TOKEN", rollout.token);
  options.client.tls = rollout.tls;
  options.connect_timeout = absl::Seconds(rollout.connect_timeout_s);
  options.health_interval = absl::Seconds(rollout.health_interval_s);
  options.health_timeout = absl::Seconds(rollout.health_timeout_s);
  options.client.status_timeout = options.health_timeout;
  options.health_misses = static_cast<int>(rollout.health_misses);
  options.resolve_interval = absl::Seconds(rollout.resolve_interval_s);
  options.no_worker_timeout = absl::Seconds(rollout.no_worker_timeout_s);
  options.shared_memory = rollout.shared_memory;
  return options;
}

absl::StatusOr<RolloutConnection> ConnectWorkers(const JobConfig& job, const model::Decoder& policy,
                                                 int64_t version) {
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<rollout::RolloutPool> pool,
                          rollout::RolloutPool::Connect(PoolOptionsFor(job.rollout)));
  PONDER_ASSIGN_OR_RETURN(rollout::BackendStatus status, pool->GetStatus());
  RolloutConnection out;
  out.max_seq_len = status.max_context;
  if (job.rollout.max_seq_len > 0)
    out.max_seq_len = std::min(out.max_seq_len, job.rollout.max_seq_len);
  out.pool = pool.get();
  out.weights = std::make_unique<PushedWeights>(pool.get(), policy);
  out.backend = std::move(pool);
  PONDER_RETURN_IF_ERROR(out.weights->Push(version));
  return out;
}

}  // namespace

absl::StatusOr<rollout::LoadedEngine> LoadWorkerEngine(const JobConfig& job) {
  if (!job.model.path.empty()) return rollout::LoadRolloutEngine(job.model, job.rollout);
  PONDER_ASSIGN_OR_RETURN(JobTokenizer tokenizer, LoadJobTokenizer(job.model));
  const int64_t vocab = tokenizer.tokenizer->vocab_size();
  PONDER_ASSIGN_OR_RETURN(model::Decoder policy, LoadPolicyModel(job.model, vocab));
  rollout::LoadedEngine out;
  out.tokenizer = tokenizer.tokenizer;
  PONDER_ASSIGN_OR_RETURN(out.config, job.model.init.ToModelConfig(vocab));
  rollout::EngineOptions options = rollout::EngineOptions::FromConfig(job.rollout);
  options.model_name = "model.init";
  PONDER_ASSIGN_OR_RETURN(out.engine,
                          rollout::RolloutEngine::Create(policy.ptr(), options, out.tokenizer));
  return out;
}

std::string RunPartialRolloutsDir(const std::string& run_dir) {
  return (fs::path(run_dir) / "partial_rollouts").string();
}

absl::StatusOr<RolloutConnection> ConnectRollout(const JobConfig& job, const model::Decoder& policy,
                                                 std::shared_ptr<const model::Tokenizer> tokenizer,
                                                 int64_t version) {
  if (!job.rollout.addresses.empty()) return ConnectWorkers(job, policy, version);
  if (job.trainer.mode == TrainerMode::kAsync) {
    // The engine generates while the trainer updates the policy: it needs weights of its own.
    return StartEngine(job, model::CloneDecoder(policy), std::move(tokenizer), version,
                       /*keep_partials=*/true);
  }
  return StartEngine(job, policy, std::move(tokenizer), version, /*keep_partials=*/true);
}

absl::StatusOr<RolloutConnection> SharedWeightsEngine(
    const JobConfig& job, const model::Decoder& policy,
    std::shared_ptr<const model::Tokenizer> tokenizer, int64_t version) {
  return StartEngine(job, policy, std::move(tokenizer), version, /*keep_partials=*/false);
}

std::shared_ptr<const WeightVersion> SnapshotWeights(const model::Decoder& policy,
                                                     int64_t version) {
  auto out = std::make_shared<WeightVersion>();
  out->version = version;
  torch::NoGradGuard no_grad;
  for (const auto& item : policy->named_parameters()) {
    auto t = std::make_shared<at::Tensor>(item.value().detach().to(at::kCPU).clone());
    out->tensors.push_back({.name = item.key(),
                            .dtype = WireDType(t->scalar_type()),
                            .shape = t->sizes().vec(),
                            .data = t->data_ptr(),
                            .bytes = t->nbytes(),
                            .owner = t});
  }
  return out;
}

}  // namespace ponder::trainer
