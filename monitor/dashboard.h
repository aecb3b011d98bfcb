// The dashboard: a web page served from the binary (monitor/web/, with uPlot embedded at build
// time), a JSON API over run directories, live updates as server-sent events, and /metrics.
// `ponder dashboard --runs DIR` serves a folder of runs; `ponder train` serves its own run
// (monitor.http).
//
//   GET /                       the page (static files under /static/)
//   GET /metrics                Prometheus text of this process
//   GET /api/runs               [{id, last_step, num_steps, first/last_wall_time, live}]
//   GET /api/run?run=           metric names, sample steps, warnings
//   GET /api/series?run=&names=a,b[&from=&to=&max_points=]   downsampled series
//   GET /api/steps?run=[&from=&to=]                           step times (timing/*) per step
//   GET /api/samples?run=&step=[&kind=train|eval&sort=&order=&filter=&q=&group=&offset=&limit=]
//   GET /api/sample?run=&step=&index=[&kind=]                 one sample, with token detail
//   GET /api/prompt?run=&origin=|prompt=[&before=&files=]     one prompt across steps
//   GET /api/config?run=        the resolved config.yaml (tokens redacted)
//   GET /api/workers?run=       worker status
//   GET /api/events             server-sent events: step, samples, run, reload
//
//   PONDER_ASSIGN_OR_RETURN(auto server, HttpServer::Create(http_options));
//   PONDER_ASSIGN_OR_RETURN(auto dashboard, Dashboard::Create(server.get(), {.runs = "runs"}));
//   server->Start();
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "monitor/http_server.h"
#include "monitor/prometheus.h"
#include "monitor/run_catalog.h"

namespace ponder::monitor {

namespace internal {
class EventHub;
}  // namespace internal

struct DashboardOptions {
  std::string runs;         // a folder of run directories, or one run directory
  bool single_run = false;  // only `runs` itself (a live run whose files may not exist yet)
  int64_t poll_ms = 250;    // how often run directories are checked for new data
  // The process's own metrics for /metrics (null: a registry of the dashboard's own).
  Registry* registry = nullptr;
  // The status of this process's workers for /api/workers (null: the run's workers.json).
  std::function<nlohmann::json()> workers;
};

class Dashboard {
 public:
  // Reads the runs once and adds the routes to `server` (not started yet; not owned).
  static absl::StatusOr<std::unique_ptr<Dashboard>> Create(HttpServer* server,
                                                           DashboardOptions options);
  ~Dashboard();  // Stop()

  // Ends the event streams and the poller; call before stopping the server.
  void Stop();

 private:
  explicit Dashboard(DashboardOptions options);
  void AddRoutes(HttpServer* server);
  void Poll();
  void Publish(const std::vector<RunCatalog::Update>& updates);

  // JSON API (dashboard_api.cc).
  HttpResponse Runs(const HttpRequest& req);
  HttpResponse Run(const HttpRequest& req);
  HttpResponse SeriesOf(const HttpRequest& req);
  HttpResponse StepsOf(const HttpRequest& req);
  HttpResponse SamplesOf(const HttpRequest& req);
  HttpResponse OneSample(const HttpRequest& req);
  HttpResponse PromptHistory(const HttpRequest& req);
  HttpResponse Config(const HttpRequest& req);
  HttpResponse Workers(const HttpRequest& req);
  // The run named by ?run=, or a 400/404 response in `error`.
  std::shared_ptr<RunStore> RunParam(const HttpRequest& req, HttpResponse* error) const;

  DashboardOptions options_;
  RunCatalog catalog_;
  std::unique_ptr<Registry> own_registry_;
  Registry* registry_;
  Family<Counter>* requests_ = nullptr;
  Family<Gauge>* streams_ = nullptr;
  std::unique_ptr<internal::EventHub> hub_;
  std::atomic<bool> stopping_{false};
  std::thread poller_;
};

}  // namespace ponder::monitor
