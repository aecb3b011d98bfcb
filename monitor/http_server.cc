#include "monitor/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ponder::monitor {
namespace {

constexpr char kCookie[] = "ponder_token";

// Compares without an early exit, so that timing does not reveal the token.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(req.get_header_value("Cookie"), ';')) {
    part = absl::StripLeadingAsciiWhitespace(part);
    if (absl::StartsWith(part, name + "=")) return std::string(part.substr(name.size() + 1));
  }
  return "";
}

// The host part of a Host header ("127.0.0.1:8088", "[::1]:80", "localhost").
std::string HostOf(const std::string& header) {
  if (!header.empty() && header[0] == '[') return header.substr(1, header.find(']') - 1);
  return header.substr(0, header.find(':'));
}

HttpRequest Convert(const httplib::Request& req) {
  HttpRequest out;
  out.path = req.path;
  for (const auto& [key, value] : req.params) out.params[key] = value;
  return out;
}

void Fill(const HttpResponse& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [key, value] : from.headers) to.set_header(key, value);
  to.set_content(from.body, from.content_type);
}

}  // namespace

std::string HttpRequest::Param(const std::string& name, const std::string& fallback) const {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second;
}

HttpResponse HttpResponse::Json(const nlohmann::json& body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::Error(int status, const std::string& message) {
  return Json({{"error", message}}, status);
}

HttpResponse HttpResponse::Text(std::string body, std::string content_type) {
  HttpResponse r;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

HttpServer::HttpServer(const HttpOptions& options)
    : options_(options), server_(std::make_unique<httplib::Server>()) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpOptions& options) {
  if (!IsLoopbackHost(options.host) && options.token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the monitoring server would listen on ", options.host,
                     ", which is not a loopback address, without a token: set ", kTokenEnv,
                     " (or --token) so that only holders of the token can read the run"));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(options));
  httplib::Server& s = *server->server_;
  const size_t threads = static_cast<size_t>(options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib's defaults set SO_REUSEPORT, which lets a second process bind the same port and
  // take part of the requests: a port in use must be an error instead. TCP_NODELAY (inherited
  // by accepted sockets): httplib writes headers and body apart, and with Nagle's algorithm
  // the body would wait for the delayed ACK of the headers, up to 200 ms per response.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  });
  HttpServer* self = server.get();
  s.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response& res) {
    // Debian's httplib compresses with brotli at its highest quality when a client accepts it
    // (about 100 KB/s here: a 40 KB answer took a second); without "br" it uses gzip, which is
    // about a hundred times faster. The request object is httplib's own, not a const one.
    auto encoding = req.headers.find("Accept-Encoding");
    if (encoding != req.headers.end() && absl::StrContains(encoding->second, "br")) {
      std::vector<std::string> kept;
      for (absl::string_view e : absl::StrSplit(encoding->second, ',')) {
        e = absl::StripAsciiWhitespace(e);
        if (!absl::StartsWith(e, "br")) kept.emplace_back(e);
      }
      const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
      const_cast<httplib::Request&>(req).headers.emplace("Accept-Encoding",
                                                         absl::StrJoin(kept, ", "));
    }
    const std::string& token = self->options_.token;
    auto deny = [&](int status, const std::string& message) {
      Fill(HttpResponse::Error(status, message), res);
      return httplib::Server::HandlerResponse::Handled;
    };
    if (token.empty()) {
      if (!IsLoopbackHost(HostOf(req.get_header_value("Host")))) {
        return deny(403, "this server answers only requests addressed to a loopback host");
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string auth = req.get_header_value("Authorization");
    if (absl::StartsWith(auth, "Bearer ") && SameSecret(auth.substr(7), token)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (SameSecret(CookieValue(req, kCookie), token)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (req.has_param("token") && SameSecret(req.get_param_value("token"), token)) {
      res.set_header("Set-Cookie",
                     absl::StrCat(kCookie, "=", token, "; Path=/; HttpOnly; SameSite=Strict"));
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    return deny(401,
                "this server requires a token: send 'Authorization: Bearer <token>' or open "
                "the page once with ?token=<token>");
  });
  const std::string& host = options.host;
  if (options.port == 0) {
    server->port_ = s.bind_to_any_port(host);
  } else {
    server->port_ =
        s.bind_to_port(host, static_cast<int>(options.port)) ? static_cast<int>(options.port) : -1;
  }
  if (server->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("the monitoring server cannot listen on ", host, ":",
                                               options.port,
                                               " (in use, or not an address "
                                               "of this machine?)"));
  }
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Get(const std::string& path,
                     std::function<HttpResponse(const HttpRequest&)> handler) {
  server_->Get(path,
               [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
                 Fill(handler(Convert(req)), res);
               });
}

void HttpServer::GetStream(const std::string& path, const std::string& content_type,
                           std::function<StreamProducer(const HttpRequest&)> make_producer) {
  server_->Get(path, [this, content_type, make_producer = std::move(make_producer)](
                         const httplib::Request& req, httplib::Response& res) {
    auto producer = std::make_shared<StreamProducer>(make_producer(Convert(req)));
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        content_type, [this, producer](size_t, httplib::DataSink& sink) {
          std::string chunk;
          if (stopping_.load() || !(*producer)(&chunk) || stopping_.load()) {
            sink.done();
            return true;
          }
          return chunk.empty() || sink.write(chunk.data(), chunk.size());
        });
  });
}

void HttpServer::Start() {
  auto ended = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, ended] {
    server_->listen_after_bind();
    ended->store(true);
  });
  // httplib's stop() does nothing until the server runs: wait for it, so that a Stop() right
  // after Start() cannot leave the thread serving.
  while (!server_->is_running() && !ended->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string HttpServer::url() const {
  const std::string host = options_.host.find(':') != std::string::npos
                               ? absl::StrCat("[", options_.host, "]")
                               : options_.host;
  return absl::StrCat("http://", host, ":", port_);
}

}  // namespace ponder::monitor
