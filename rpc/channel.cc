#include "rpc/channel.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rpc/security.h"

namespace ponder::rpc {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  args.SetMaxSendMessageSize(options.max_send_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each worker gets a connection of its own, even when two channels lead to one address.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!options.authority.empty() && options.tls.client_enabled()) {
    args.SetSslTargetNameOverride(options.authority);
  }
  return grpc::CreateCustomChannel(address, *credentials, args);
}

absl::Status WaitConnected(grpc::Channel& channel, const std::string& what,
                           const std::string& address, absl::Duration timeout) {
  if (channel.WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("no ", what, " answers at ", address, " (waited ",
                                             absl::FormatDuration(timeout), ")"));
}

absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  ::grpc::health::v1::Health::Stub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ::grpc::health::v1::HealthCheckRequest request;
  ::grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub.Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("health check: ", status.error_message()));
  }
  if (response.status() != ::grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        "health check: the server is ",
        ::grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Endpoint>> Resolve(const std::string& configured) {
  const size_t colon = configured.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(configured.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", configured, "' must be HOST:PORT, e.g. 10.0.0.5:50051"));
  }
  std::string host = configured.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char buffer[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
      inet_pton(AF_INET6, host.c_str(), buffer) == 1) {
    return std::vector<Endpoint>{{configured, "", configured}};
  }
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat("address '", configured, "': cannot resolve '", host,
                                            "': ", gai_strerror(rc)));
  }
  std::set<std::string> v4, v6;
  for (struct addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof(text));
      v4.insert(absl::StrCat(text, ":", port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                sizeof(text));
      v6.insert(absl::StrCat("[", text, "]:", port));
    }
  }
  freeaddrinfo(found);
  const std::set<std::string>& chosen = v4.empty() ? v6 : v4;
  if (chosen.empty()) {
    return absl::NotFoundError(
        absl::StrCat("address '", configured, "': '", host, "' has no IP address"));
  }
  std::vector<Endpoint> out;
  for (const std::string& a : chosen) out.push_back({a, host, configured});
  return out;
}

}  // namespace ponder::rpc
