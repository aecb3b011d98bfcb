// RewardBackend (DESIGN.md §4): how the trainer's controller gets a batch of trajectories
// scored. In-process (a Reward on this machine's cores) or over gRPC (`ponder reward`
// servers); both give the same results for the same inputs. Per-item errors come back per
// item; a call fails only when the request itself is refused (unknown verifier, bad token).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reward/reward.h"

namespace ponder::reward {

class RewardBackend {
 public:
  virtual ~RewardBackend() = default;
  virtual absl::StatusOr<std::vector<ItemResult>> Score(const std::vector<VerifyInput>& items,
                                                        const BatchOptions& options) = 0;
  virtual absl::StatusOr<std::vector<VerifierInfo>> ListVerifiers() = 0;
};

// Scores on a Reward in this process.
class LocalRewardBackend : public RewardBackend {
 public:
  explicit LocalRewardBackend(std::shared_ptr<const Reward> reward) : reward_(std::move(reward)) {}
  absl::StatusOr<std::vector<ItemResult>> Score(const std::vector<VerifyInput>& items,
                                                const BatchOptions& options) override;
  absl::StatusOr<std::vector<VerifierInfo>> ListVerifiers() override;

 private:
  std::shared_ptr<const Reward> reward_;
};

struct RewardClientOptions {
  std::string address;                              // host:port of a RewardService
  std::string token;                                // sent with every call when not empty
  absl::Duration rpc_timeout = absl::Seconds(300);  // per RPC
  size_t max_batch_items = 256;                     // larger batches go as several RPCs
};

// Scores through a RewardService over gRPC. Chunks of one batch are sent concurrently.
class GrpcRewardBackend : public RewardBackend {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcRewardBackend>> Create(
      const RewardClientOptions& options);
  ~GrpcRewardBackend() override;
  absl::StatusOr<std::vector<ItemResult>> Score(const std::vector<VerifyInput>& items,
                                                const BatchOptions& options) override;
  absl::StatusOr<std::vector<VerifierInfo>> ListVerifiers() override;

 private:
  struct Impl;
  explicit GrpcRewardBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The backend the job config asks for: gRPC when reward.address is set, else in-process.
absl::StatusOr<std::unique_ptr<RewardBackend>> MakeRewardBackend(const RewardOptions& options);

}  // namespace ponder::reward
