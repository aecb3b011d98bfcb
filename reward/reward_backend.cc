#include "reward/reward_backend.h"

#include "base/status.h"
#include "rpc/security.h"

namespace ponder::reward {

absl::StatusOr<std::vector<ItemResult>> LocalRewardBackend::Score(
    const std::vector<VerifyInput>& items, const BatchOptions& options) {
  return reward_->ScoreBatch(items, options);
}

absl::StatusOr<std::vector<VerifierInfo>> LocalRewardBackend::ListVerifiers() {
  return reward_->ListVerifiers();
}

absl::StatusOr<std::unique_ptr<RewardBackend>> MakeRewardBackend(const RewardOptions& options) {
  if (!options.addresses.empty()) {
    RewardClientOptions client;
    client.addresses = options.addresses;
    client.token = rpc::TokenFrom("", "PONDER_REWARD_TOKEN", options.token);
    client.tls = options.tls;
    client.rpc_timeout = absl::Seconds(options.rpc_timeout_s);
    client.max_attempts = static_cast<int>(options.max_attempts);
    client.connect_timeout = absl::Seconds(options.connect_timeout_s);
    PONDER_ASSIGN_OR_RETURN(std::unique_ptr<GrpcRewardBackend> backend,
                            GrpcRewardBackend::Create(client));
    return std::unique_ptr<RewardBackend>(std::move(backend));
  }
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Reward> reward, Reward::Create(options));
  return std::unique_ptr<RewardBackend>(
      std::make_unique<LocalRewardBackend>(std::shared_ptr<const Reward>(std::move(reward))));
}

}  // namespace ponder::reward
