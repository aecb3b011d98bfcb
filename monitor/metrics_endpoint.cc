#include "monitor/metrics_endpoint.h"

#include <chrono>
#include <cstdlib>

namespace ponder::monitor {

std::string TokenOrEnvironment(const std::string& token) {
  if (!token.empty()) return token;
  const char* env = std::getenv(kTokenEnv);
  return env != nullptr ? env : "";
}

void AddProcessMetrics(Registry& registry, const std::string& role) {
  registry.AddGauge("ponder_process_info", "Always 1; the role of this Ponder process.", {"role"})
      .Labels({role})
      .Set(1);
  registry.AddGauge("ponder_process_start_time_seconds", "Start time of the process (Unix).")
      .Labels({})
      .Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
               .count());
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsEndpoint(HttpOptions http,
                                                                 Registry* registry,
                                                                 const std::string& role) {
  http.token = TokenOrEnvironment(http.token);
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(http);
  if (!server.ok()) return server.status();
  AddProcessMetrics(*registry, role);
  (*server)->Get("/metrics", [registry](const HttpRequest&) {
    return HttpResponse::Text(registry->Exposition(), kPrometheusContentType);
  });
  (*server)->Start();
  return server;
}

}  // namespace ponder::monitor
