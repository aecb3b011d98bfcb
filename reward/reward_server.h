// RewardService over gRPC (proto/ponder/v1/reward.proto): `Score` (a batch),
// `ListVerifiers`, and the standard gRPC health service. Served by `ponder reward --listen`.
//
// When a token is configured, every call must carry it: in ScoreRequest.token, or as the
// metadata "authorization: Bearer <token>"; otherwise the call fails UNAUTHENTICATED and is
// logged with the caller's address (rpc/security.h). With tls.cert and tls.key the server
// speaks TLS only.
// Items are scored on the Reward's pool; the gRPC threads never wait on a verifier.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "reward/reward.h"
#include "rpc/tls_options.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace ponder::reward {

struct RewardServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::string token;                   // required from clients when not empty
  rpc::TlsOptions tls;                 // cert + key: serve TLS
  int64_t max_message_mb = 256;
  // For /metrics. Told of every call as it ends: the method ("Score", "ListVerifiers"), its
  // status code and duration in seconds.
  std::function<void(const char* method, absl::StatusCode code, double seconds)> on_call;
  // Told of every scored item: what scored it (the request's verifier, else
  // "reward:<data source>", or "reward" for the default) and its result.
  std::function<void(const std::string& scorer, const ItemResult& result)> on_item;
};

class RewardServer {
 public:
  // Starts serving `reward` (which must outlive the server only as long as the shared_ptr
  // keeps it). Fails when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RewardServer>> Start(const RewardServerOptions& options,
                                                             std::shared_ptr<const Reward> reward);
  ~RewardServer();

  int port() const { return port_; }
  // host:port with the bound port ("127.0.0.1:40123").
  const std::string& address() const { return address_; }
  // Sets what the health service answers (SERVING at start); NOT_SERVING before a stop.
  void SetServing(bool serving);
  // Stops accepting calls and waits up to `grace` for running ones (then cancels them).
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until the server has shut down.
  void Wait();
  // Items received and not yet scored (the scoring queue's depth).
  int64_t items_in_flight() const;

 private:
  class Service;
  RewardServer() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace ponder::reward
