// A small HTTP server for monitoring: the dashboard's page and JSON API, server-sent events,
// and Prometheus' /metrics (cpp-httplib underneath, hidden from callers).
//
// Loopback by default. Bound to any other address it requires a token, which clients send as
// "Authorization: Bearer <token>", as the cookie ponder_token, or once as ?token=<token>
// (answered with that cookie, so that a browser needs it only in the first URL). Without a
// token, requests must name a loopback host in their Host header, so that a web page from
// elsewhere cannot read the server through DNS rebinding.
//
//   PONDER_ASSIGN_OR_RETURN(auto server, HttpServer::Create({.host = "127.0.0.1", .port = 0}));
//   server->Get("/metrics", [&](const HttpRequest&) { return HttpResponse::Text(...); });
//   server->Start();  // serves on its own threads until Stop() or destruction
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "base/config.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace ponder::monitor {

// The token is not a config field (the resolved config is written into the run directory and
// shown by the dashboard): it comes from a flag or the environment (kTokenEnv).
struct HttpOptions {
  std::string host = "127.0.0.1";
  int64_t port = 0;  // 0: any free port
  int64_t threads = 16;
  std::string token;  // required from clients when set; required off loopback

  void Bind(config::Binder& b) {
    b.Field("host", host).NotEmpty();
    b.Field("port", port).AtLeast(0).AtMost(65535);
    b.Field("threads", threads).AtLeast(2).AtMost(256);
  }
};

// The environment variable that holds the token of a monitoring server.
inline constexpr char kTokenEnv[] = "PONDER_MONITOR_TOKEN";

struct HttpRequest {
  std::string path;
  std::map<std::string, std::string> params;  // query parameters
  // The parameter, or `fallback` when absent.
  std::string Param(const std::string& name, const std::string& fallback = "") const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;

  static HttpResponse Json(const nlohmann::json& body, int status = 200);
  // {"error": message}
  static HttpResponse Error(int status, const std::string& message);
  static HttpResponse Text(std::string body, std::string content_type);
};

// Produces the next piece of a stream into `chunk` (it may wait, up to about a second, for
// something to send, and leave `chunk` empty); returns false to end the stream.
using StreamProducer = std::function<bool(std::string* chunk)>;

class HttpServer {
 public:
  // Binds the address (fails when it is in use, or off loopback without a token).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpOptions& options);
  ~HttpServer();  // Stop()

  // Routes, added before Start(). Handlers run on the server's threads, concurrently.
  void Get(const std::string& path, std::function<HttpResponse(const HttpRequest&)> handler);
  // A long response sent as it is produced (server-sent events), one producer per request.
  void GetStream(const std::string& path, const std::string& content_type,
                 std::function<StreamProducer(const HttpRequest&)> make_producer);

  void Start();
  // Ends open streams, stops accepting and waits for the serving thread.
  void Stop();

  int port() const { return port_; }
  // "http://HOST:PORT"
  std::string url() const;

 private:
  HttpServer(const HttpOptions& options);

  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

}  // namespace ponder::monitor
