// Transport security of one gRPC link, as a job config section (`rollout.tls`, `reward.tls`):
//
//   tls:
//     cert: ""   # PEM file: this side's certificate chain (a server's, or a client's for mTLS)
//     key: ""    # PEM file: its private key
//     ca: ""     # PEM file: the CA certificate(s) that signed the other side's certificate
//
// A server serves TLS when `cert` and `key` are set, and also requires client certificates
// signed by `ca` when `ca` is set. A client uses TLS when `ca` is set (or `cert`, for a
// client certificate; the system's roots then verify the server), and plaintext otherwise.
// Inline so that the job config binds it without linking gRPC.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "base/config.h"

namespace ponder::rpc {

struct TlsOptions {
  std::string cert;
  std::string key;
  std::string ca;

  bool server_enabled() const { return !cert.empty(); }
  bool client_enabled() const { return !ca.empty() || !cert.empty(); }

  void Bind(config::Binder& b) {
    b.Field("cert", cert);
    b.Field("key", key);
    b.Field("ca", ca);
  }
  absl::Status Validate() const {
    if (cert.empty() != key.empty()) {
      return absl::InvalidArgumentError(
          "cert and key must be given together (a certificate and its private key)");
    }
    return absl::OkStatus();
  }
};

}  // namespace ponder::rpc
