// RolloutService over gRPC (callback API): serves any RolloutBackend, normally an engine.
//
//   Generate       server-streaming: each trajectory is sent as soon as it finishes. The
//                  call's deadline and cancellation reach the backend, which frees the
//                  samples' KV slots; a bad request ends INVALID_ARGUMENT with a message.
//   UpdateWeights  client-streaming: begin, chunks, commit (CRC-32C); applied only when the
//                  stream is complete and the checksum matches (rollout/weight_update.h).
//   GetStatus      load, cache use, weight version, throughput.
// The standard gRPC health service is on. With a token, every RolloutService call must carry
// it ("authorization: Bearer <token>"); others end UNAUTHENTICATED and are logged with the
// caller's address (rpc/security.h). With tls.cert and tls.key the server speaks TLS only.
//
//   PONDER_ASSIGN_OR_RETURN(auto server, RolloutServer::Start(engine.get(), {.listen =
//   "0.0.0.0:50051"})); server->Wait();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rollout/rollout.h"
#include "rpc/tls_options.h"

namespace ponder::rollout {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  std::string token;                   // required from clients when not empty
  rpc::TlsOptions tls;                 // cert + key: serve TLS
  // Defaults for fields a client leaves at 0 (max_new_tokens).
  SamplingOptions defaults;
  // Largest message accepted (weight chunks are 4 MiB by default).
  int max_receive_message_bytes = 64 << 20;
  // Largest weight update a client may announce.
  uint64_t max_update_bytes = uint64_t{64} << 30;
  // Told of every call as it ends (for /metrics), calls refused for the token included
  // (UNAUTHENTICATED): the method ("Generate", "UpdateWeights", "GetStatus"), its status code
  // and its duration in seconds. Runs on a gRPC thread.
  std::function<void(const char* method, absl::StatusCode code, double seconds)> on_call;
};

class RolloutServer {
 public:
  // Starts serving `backend` (not owned; it must outlive the server). Unavailable when the
  // address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RolloutServer>> Start(RolloutBackend* backend,
                                                              const ServerOptions& options);
  ~RolloutServer();  // Shutdown()

  int port() const { return port_; }
  // "HOST:PORT" with the port actually bound.
  std::string address() const { return address_; }

  // Sets what the health service answers (SERVING at start). A worker about to stop says
  // NOT_SERVING first, so that a trainer's pool moves its work elsewhere.
  void SetServing(bool serving);

  // Stops accepting calls, cancels running ones and waits for them to end.
  void Shutdown();
  // Blocks until Shutdown (from another thread).
  void Wait();

  class Impl;

 private:
  RolloutServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string address_;
};

}  // namespace ponder::rollout
