// Client links to Ponder's services: channels with TLS and fast reconnects, a wait that
// names the peer when it is missing, the standard health probe, and where a configured
// address leads (a DNS name may stand for many workers, e.g. a Kubernetes headless service).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/tls_options.h"

namespace ponder::rpc {

struct ChannelOptions {
  TlsOptions tls;
  // The name the server's TLS certificate must hold, when `address` is a resolved IP address
  // of it (Endpoint::authority).
  std::string authority;
  // Largest message received (-1: no limit).
  int max_receive_message_bytes = -1;
  int max_send_message_bytes = -1;
};

// A channel to "HOST:PORT" that retries a lost connection within about a second (gRPC's
// default backoff grows to two minutes, too slow for a worker that restarts).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options);

// Waits until the channel connects; Unavailable "no <what> answers at <address> (waited
// ...)" otherwise.
absl::Status WaitConnected(grpc::Channel& channel, const std::string& what,
                           const std::string& address, absl::Duration timeout);

// Asks the server's standard health service (grpc.health.v1.Health/Check, the whole
// server) within `timeout`: OK when it serves; Unavailable, DeadlineExceeded or the call's
// error otherwise.
absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout);

// One server a configured address leads to.
struct Endpoint {
  std::string address;    // "IP:PORT" (or the configured text when it is already an IP)
  std::string authority;  // the configured host name (for TLS), empty for an IP literal
  std::string source;     // the configured address
  bool operator==(const Endpoint& o) const { return address == o.address; }
};

// "IP:PORT" is itself; "NAME:PORT" is each IPv4 address NAME resolves to (or each IPv6 one
// when it has none), in sorted order. NotFound naming the address when a name does not
// resolve; InvalidArgument when it is not HOST:PORT.
absl::StatusOr<std::vector<Endpoint>> Resolve(const std::string& configured);

}  // namespace ponder::rpc
