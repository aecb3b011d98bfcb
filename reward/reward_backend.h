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
#include "rpc/backoff.h"
#include "rpc/tls_options.h"
#include "rpc/worker_status.h"

namespace ponder::reward {

// Totals since the backend was created.
struct RewardCallCounts {
  int64_t retries = 0;          // calls sent again after a failure
  int64_t failed_items = 0;     // items that got an error because no server could score them
  int64_t server_failures = 0;  // times a server was found unreachable, hung or cut off
};

class RewardBackend {
 public:
  virtual ~RewardBackend() = default;
  virtual absl::StatusOr<std::vector<ItemResult>> Score(const std::vector<VerifyInput>& items,
                                                        const BatchOptions& options) = 0;
  virtual absl::StatusOr<std::vector<VerifierInfo>> ListVerifiers() = 0;
  // The servers scoring for this backend (none in process).
  virtual std::vector<rpc::WorkerStatus> Workers() const { return {}; }
  virtual RewardCallCounts Counts() const { return {}; }
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
  // RewardService servers, HOST:PORT; a DNS name stands for every address it resolves to
  // (re-resolved every `resolve_interval`).
  std::vector<std::string> addresses;
  std::string token;                                // sent with every call when not empty
  rpc::TlsOptions tls;                              // ca: TLS to the servers
  absl::Duration rpc_timeout = absl::Seconds(300);  // per RPC
  size_t max_batch_items = 256;                     // larger batches go as several RPCs
  // A chunk whose call fails for want of a server (unavailable, past its deadline, cut off)
  // is sent again, to the least busy other server, after a backoff; after `max_attempts`
  // its items come back with the last error.
  int max_attempts = 4;
  rpc::Backoff backoff;
  // Create waits this long for every server to answer its health service.
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration resolve_interval = absl::Seconds(30);
};

// Scores through RewardService servers over gRPC. The chunks of one batch are sent
// concurrently, each to the server with the fewest items in flight.
class GrpcRewardBackend : public RewardBackend {
 public:
  // InvalidArgument for an address that is not HOST:PORT; Unavailable naming the address of
  // a server that does not answer within connect_timeout; Unauthenticated when a server
  // refuses the token.
  static absl::StatusOr<std::unique_ptr<GrpcRewardBackend>> Create(
      const RewardClientOptions& options);
  ~GrpcRewardBackend() override;
  absl::StatusOr<std::vector<ItemResult>> Score(const std::vector<VerifyInput>& items,
                                                const BatchOptions& options) override;
  absl::StatusOr<std::vector<VerifierInfo>> ListVerifiers() override;
  std::vector<rpc::WorkerStatus> Workers() const override;
  RewardCallCounts Counts() const override;

  struct Impl;

 private:
  explicit GrpcRewardBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The backend the job config asks for: gRPC when reward.addresses is set (the token from
// reward.token, else $PONDER_REWARD_TOKEN), else in-process.
absl::StatusOr<std::unique_ptr<RewardBackend>> MakeRewardBackend(const RewardOptions& options);

}  // namespace ponder::reward
