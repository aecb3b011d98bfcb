// A RolloutBackend that talks to a remote RolloutService (`ponder rollout --listen ...`).
// Trajectories come back exactly as the remote engine made them: for the same seeds, the
// same as an in-process RolloutEngine on the same weights.
//
// Every call carries a deadline: a GenerateRequest's own, else `generate_timeout`;
// `update_timeout` and `status_timeout` for the others. A request the server rejects ends
// through on_done (INVALID_ARGUMENT with the server's message), not from StartGenerate.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rollout/rollout.h"
#include "rollout/shared_weights.h"
#include "rpc/tls_options.h"

namespace ponder::rollout {

struct GrpcBackendOptions {
  std::string token;    // sent with every call when not empty
  rpc::TlsOptions tls;  // ca (and cert + key for mTLS): connect with TLS
  // The name on the worker's TLS certificate when the address is a resolved IP of it.
  std::string authority;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration generate_timeout = absl::Hours(24);
  absl::Duration update_timeout = absl::Minutes(10);
  absl::Duration status_timeout = absl::Seconds(10);
  size_t chunk_bytes = size_t{4} << 20;  // weight chunk size on the wire
};

class GrpcRolloutBackend : public RolloutBackend {
 public:
  // Connects to "HOST:PORT"; Unavailable naming the address when no server answers within
  // connect_timeout.
  static absl::StatusOr<std::unique_ptr<GrpcRolloutBackend>> Connect(
      const std::string& address, const GrpcBackendOptions& options = {});
  ~GrpcRolloutBackend() override;

  absl::StatusOr<std::shared_ptr<GenerateCall>> StartGenerate(GenerateRequest request,
                                                              GenerateCallbacks callbacks) override;
  // Streams the tensors in chunks with a CRC-32C; the server applies them only when all have
  // arrived intact.
  absl::Status UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors) override;
  // The same through shared memory: `tensors` lie in `file` (rollout/shared_weights.h) and
  // `crc32c` is that of their bytes in order. FailedPrecondition when the worker cannot open
  // the file (it is not on this host): stream instead.
  absl::Status UpdateWeightsShared(int64_t version, const std::vector<WeightTensor>& tensors,
                                   const SharedWeightsFile& file, uint32_t crc32c);
  absl::StatusOr<BackendStatus> GetStatus() override;

  // Cancels the weight updates in progress (they return CANCELLED), e.g. to a worker found
  // dead or cut off: nothing waits for their deadline.
  void CancelUpdates();

  // The worker's standard gRPC health service (no token needed): OK when it serves.
  absl::Status CheckHealth(absl::Duration timeout);

  const std::string& address() const;

  class Impl;

 private:
  explicit GrpcRolloutBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder::rollout
