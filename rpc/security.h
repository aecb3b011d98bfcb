// Who may call a Ponder service, and how links are protected (DESIGN.md §2: every service
// takes a shared-secret token and optional TLS; servers bind loopback unless told).
//
// Servers: `ServerCredentialsFor(tls)` for AddListeningPort, and a `TokenCheck` that every
// handler asks first:
//
//   if (grpc::Status denied = auth_.Admit(*context, "Generate"); !denied.ok()) ...finish...
//
// A call without the token, or with another, ends UNAUTHENTICATED and is logged with the
// peer's address (at most one line per second per service, with a count of the rest). The
// standard health service stays open, so that orchestrators can probe it.
//
// Clients: `ChannelCredentialsFor(tls)` and `AttachToken(context, token)` (metadata
// "authorization: Bearer <token>").
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rpc/tls_options.h"

namespace ponder::rpc {

// Plaintext without cert/key; TLS from the PEM files otherwise (an unreadable file is an
// error naming it).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsOptions& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsOptions& tls);

// Sends `token` with the call (nothing when empty).
void AttachToken(grpc::ClientContext& context, const std::string& token);

// Checks the token of incoming calls of one service.
class TokenCheck {
 public:
  // An empty token admits every call.
  TokenCheck(std::string service, std::string token)
      : service_(std::move(service)), token_(std::move(token)) {}

  // OK when the call carries the token in its "authorization: Bearer" metadata (or, for
  // services whose requests have a token field, as `request_token`); UNAUTHENTICATED,
  // logged with the peer's address, otherwise.
  grpc::Status Admit(const grpc::ServerContextBase& context, std::string_view method,
                     std::string_view request_token = {}) const;

  bool required() const { return !token_.empty(); }
  int64_t rejected() const { return rejected_.load(); }

 private:
  void LogRejection(const std::string& peer, std::string_view method, bool had_token) const;

  std::string service_;
  std::string token_;
  mutable std::atomic<int64_t> rejected_{0};
  mutable std::mutex log_mu_;
  mutable int64_t last_log_ms_ = 0;
  mutable int64_t unlogged_ = 0;
};

// Compares without an early exit, so that timing does not reveal the token.
bool SameSecret(std::string_view a, std::string_view b);

// The address a server binds for a --listen value: "" -> "127.0.0.1:0", "PORT" or ":PORT" ->
// "127.0.0.1:PORT" (loopback unless told otherwise), "HOST:PORT" as given. InvalidArgument
// for anything else.
absl::StatusOr<std::string> ListenAddress(const std::string& flag);

// Whether a HOST:PORT binds only loopback (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(const std::string& address);

// The token a process uses: `flag` when set, else the environment variable `env` when set,
// else `configured`.
std::string TokenFrom(const std::string& flag, const char* env, const std::string& configured);

}  // namespace ponder::rpc
