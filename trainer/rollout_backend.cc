#include "trainer/rollout_backend.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/status.h"
#include "rollout/engine.h"
#include "rollout/grpc_backend.h"
#include "rpc/security.h"

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

// Sends every parameter of the policy to a remote backend.
class PushedWeights : public WeightSync {
 public:
  // The worker's versions only go up, so one that already holds a version >= ours (a fresh
  // one holds 0) gets ours shifted by `version_offset`.
  PushedWeights(rollout::RolloutBackend* backend, model::Decoder policy, int64_t version_offset)
      : backend_(backend), policy_(std::move(policy)), version_offset_(version_offset) {}

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
    return backend_->UpdateWeights(version + version_offset_, tensors);
  }

 private:
  rollout::RolloutBackend* backend_;
  model::Decoder policy_;
  int64_t version_offset_;
};

absl::StatusOr<RolloutConnection> StartEngine(const JobConfig& job, const model::Decoder& policy,
                                              std::shared_ptr<const model::Tokenizer> tokenizer,
                                              int64_t version) {
  rollout::EngineOptions options = rollout::EngineOptions::FromConfig(job.rollout);
  options.initial_version = version;
  options.model_name = job.model.path;
  RolloutConnection out;
  if (options.partial_store_dir.empty() && job.rollout.sampling.round_token_budget > 0) {
    // Paused partial rollouts live in the run directory so that checkpoints can keep them.
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

absl::StatusOr<RolloutConnection> ConnectWorker(const JobConfig& job, const model::Decoder& policy,
                                                int64_t version) {
  rollout::GrpcBackendOptions client;
  client.token = rpc::TokenFrom("", "PONDER_ROLLOUT_TOKEN", job.rollout.token);
  client.tls = job.rollout.tls;
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<rollout::GrpcRolloutBackend> remote,
                          rollout::GrpcRolloutBackend::Connect(job.rollout.address, client));
  PONDER_ASSIGN_OR_RETURN(rollout::BackendStatus status, remote->GetStatus());
  RolloutConnection out;
  out.max_seq_len = status.max_context;
  if (job.rollout.max_seq_len > 0)
    out.max_seq_len = std::min(out.max_seq_len, job.rollout.max_seq_len);
  // The worker starts from whatever it loaded; make it hold exactly our weights.
  const int64_t offset = std::max<int64_t>(0, status.weight_version + 1 - version);
  out.weights = std::make_unique<PushedWeights>(remote.get(), policy, offset);
  out.backend = std::move(remote);
  PONDER_RETURN_IF_ERROR(out.weights->Push(version));
  return out;
}

}  // namespace

std::string RunPartialRolloutsDir(const std::string& run_dir) {
  return (fs::path(run_dir) / "partial_rollouts").string();
}

absl::StatusOr<RolloutConnection> ConnectRollout(const JobConfig& job, const model::Decoder& policy,
                                                 std::shared_ptr<const model::Tokenizer> tokenizer,
                                                 int64_t version) {
  if (job.rollout.address.empty()) return StartEngine(job, policy, std::move(tokenizer), version);
  return ConnectWorker(job, policy, version);
}

}  // namespace ponder::trainer
