#include "rpc/security.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"

namespace ponder::rpc {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  absl::StatusOr<std::string> text = file::ReadFile(path, absl::StrCat("the TLS ", what, " file"));
  if (!text.ok()) return absl::InvalidArgumentError(text.status().message());
  if (text->find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the TLS ", what, " file '", path, "' is not PEM (no -----BEGIN line)"));
  }
  return *std::move(text);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsOptions& tls) {
  if (absl::Status s = tls.Validate(); !s.ok()) return s;
  if (!tls.server_enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  absl::StatusOr<std::string> key = ReadPem(tls.key, "key");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> cert = ReadPem(tls.cert, "certificate");
  if (!cert.ok()) return cert.status();
  pair.private_key = *std::move(key);
  pair.cert_chain = *std::move(cert);
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(tls.ca, "CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsOptions& tls) {
  if (absl::Status s = tls.Validate(); !s.ok()) return s;
  if (!tls.client_enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!tls.ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(tls.ca, "CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  if (!tls.cert.empty()) {
    absl::StatusOr<std::string> key = ReadPem(tls.key, "key");
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> cert = ReadPem(tls.cert, "certificate");
    if (!cert.ok()) return cert.status();
    options.pem_private_key = *std::move(key);
    options.pem_cert_chain = *std::move(cert);
  }
  return grpc::SslCredentials(options);
}

void AttachToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

grpc::Status TokenCheck::Admit(const grpc::ServerContextBase& context, std::string_view method,
                               std::string_view request_token) const {
  if (token_.empty()) return grpc::Status::OK;
  bool had_token = !request_token.empty();
  bool ok = had_token && SameSecret(request_token, token_);
  if (!ok) {
    auto it = context.client_metadata().find("authorization");
    if (it != context.client_metadata().end()) {
      had_token = true;
      const std::string_view value(it->second.data(), it->second.size());
      constexpr std::string_view kBearer = "Bearer ";
      ok = value.substr(0, kBearer.size()) == kBearer &&
           SameSecret(value.substr(kBearer.size()), token_);
    }
  }
  if (ok) return grpc::Status::OK;
  rejected_.fetch_add(1);
  LogRejection(context.peer(), method, had_token);
  return grpc::Status(
      grpc::StatusCode::UNAUTHENTICATED,
      absl::StrCat(service_, " requires a token: ",
                   had_token ? "the one this call carries is wrong" : "this call carries none",
                   " (send the metadata 'authorization: Bearer <token>')"));
}

void TokenCheck::LogRejection(const std::string& peer, std::string_view method,
                              bool had_token) const {
  std::lock_guard<std::mutex> lock(log_mu_);
  const int64_t now = NowMs();
  if (now - last_log_ms_ < 1000) {
    ++unlogged_;
    return;
  }
  spdlog::warn(
      "{}.{}: rejected a call from {} ({}){}", service_, method, peer,
      had_token ? "wrong token" : "no token",
      unlogged_ > 0 ? absl::StrCat("; ", unlogged_, " more rejected since the last line") : "");
  last_log_ms_ = now;
  unlogged_ = 0;
}

absl::StatusOr<std::string> ListenAddress(const std::string& flag) {
  if (flag.empty()) return std::string("127.0.0.1:0");
  const std::string port_part = flag[0] == ':' ? flag.substr(1) : flag;
  int port = 0;
  if (absl::SimpleAtoi(port_part, &port)) {
    if (port < 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen port ", port_part, " is not in [0, 65535]"));
    }
    return absl::StrCat("127.0.0.1:", port);
  }
  const size_t colon = flag.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(flag.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", flag,
                     "' must be HOST:PORT (e.g. 0.0.0.0:50051 for every interface) or a port alone "
                     "(loopback)"));
  }
  return flag;
}

bool IsLoopbackAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string TokenFrom(const std::string& flag, const char* env, const std::string& configured) {
  if (!flag.empty()) return flag;
  if (const char* value = std::getenv(env); value != nullptr && *value != '\0') return value;
  return configured;
}

}  // namespace ponder::rpc
