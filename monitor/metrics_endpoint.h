// /metrics of a long-running process (`ponder rollout`, `ponder reward`, `ponder train`): an
// HTTP server at the job's monitor.http serving a Prometheus registry.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "monitor/http_server.h"
#include "monitor/prometheus.h"

namespace ponder::monitor {

// Adds the process's own families to `registry`: ponder_process_info{role} (always 1) and
// ponder_process_start_time_seconds. Once per registry.
void AddProcessMetrics(Registry& registry, const std::string& role);

// AddProcessMetrics, then serves `registry` at /metrics and starts the server. The token
// comes from `http.token`, else $PONDER_MONITOR_TOKEN.
absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsEndpoint(HttpOptions http,
                                                                 Registry* registry,
                                                                 const std::string& role);

// `http.token` when set, else $PONDER_MONITOR_TOKEN (else empty).
std::string TokenOrEnvironment(const std::string& token);

}  // namespace ponder::monitor
