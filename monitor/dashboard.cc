#include "monitor/dashboard.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "monitor/internal/event_hub.h"
#include "monitor/web_assets.h"

namespace ponder::monitor {
using nlohmann::json;

namespace {

// Steps whose metrics ride along in a "step" event; past this the page fetches them.
constexpr size_t kStepsInEvent = 20;

}  // namespace

Dashboard::Dashboard(DashboardOptions options)
    : options_(std::move(options)),
      catalog_(options_.runs, options_.single_run),
      hub_(std::make_unique<internal::EventHub>()) {}

absl::StatusOr<std::unique_ptr<Dashboard>> Dashboard::Create(HttpServer* server,
                                                             DashboardOptions options) {
  if (options.poll_ms < 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("the dashboard's poll interval must be >= 10 ms (got ", options.poll_ms, ")"));
  }
  std::unique_ptr<Dashboard> dashboard(new Dashboard(std::move(options)));
  Dashboard& d = *dashboard;
  if (d.options_.registry == nullptr) d.own_registry_ = std::make_unique<Registry>();
  d.registry_ = d.options_.registry != nullptr ? d.options_.registry : d.own_registry_.get();
  d.requests_ = &d.registry_->AddCounter("ponder_dashboard_requests_total",
                                         "Dashboard HTTP requests, by route.", {"route"});
  d.streams_ = &d.registry_->AddGauge("ponder_dashboard_event_streams",
                                      "Open server-sent event streams of the dashboard.");
  Family<Gauge>& last_step =
      d.registry_->AddGauge("ponder_run_last_step",
                            "The last step with metrics of each run the dashboard shows.", {"run"});
  d.registry_->AddCollector([&d, &last_step] {
    for (const auto& run : d.catalog_.Runs()) {
      last_step.Labels({run->id()}).Set(static_cast<double>(run->last_step()));
    }
  });
  d.catalog_.Refresh();  // the data present now is read before serving, without events
  d.AddRoutes(server);
  d.poller_ = std::thread([&d] { d.Poll(); });
  return dashboard;
}

Dashboard::~Dashboard() { Stop(); }

void Dashboard::Stop() {
  if (stopping_.exchange(true)) return;
  hub_->Close();
  if (poller_.joinable()) poller_.join();
}

void Dashboard::Poll() {
  while (!stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.poll_ms));
    Publish(catalog_.Refresh());
  }
}

void Dashboard::Publish(const std::vector<RunCatalog::Update>& updates) {
  for (const RunCatalog::Update& u : updates) {
    const std::string& id = u.run->id();
    if (u.added) hub_->Publish("run", {{"run", id}});
    if (!u.steps.empty()) {
      json event = {{"run", id}, {"steps", u.steps}, {"last_step", u.run->last_step()}};
      if (u.steps.size() <= kStepsInEvent) {
        json metrics = json::object();
        for (int64_t step : u.steps) metrics[std::to_string(step)] = u.run->StepMetrics(step);
        event["metrics"] = std::move(metrics);
      }
      hub_->Publish("step", event);
    }
    for (const auto& [kind, step] : u.sample_files) {
      hub_->Publish(
          "samples",
          {{"run", id}, {"kind", kind == SampleKind::kEval ? "eval" : "train"}, {"step", step}});
    }
  }
}

void Dashboard::AddRoutes(HttpServer* server) {
  auto route = [this, server](const std::string& path,
                              HttpResponse (Dashboard::*handler)(const HttpRequest&)) {
    Counter* count = &requests_->Labels({path});
    server->Get(path, [this, handler, count](const HttpRequest& req) {
      count->Inc();
      return (this->*handler)(req);
    });
  };
  route("/api/runs", &Dashboard::Runs);
  route("/api/run", &Dashboard::Run);
  route("/api/series", &Dashboard::SeriesOf);
  route("/api/steps", &Dashboard::StepsOf);
  route("/api/samples", &Dashboard::SamplesOf);
  route("/api/sample", &Dashboard::OneSample);
  route("/api/prompt", &Dashboard::PromptHistory);
  route("/api/config", &Dashboard::Config);
  route("/api/workers", &Dashboard::Workers);

  Counter* metrics_count = &requests_->Labels({"/metrics"});
  server->Get("/metrics", [this, metrics_count](const HttpRequest&) {
    metrics_count->Inc();
    return HttpResponse::Text(registry_->Exposition(), kPrometheusContentType);
  });

  server->GetStream("/api/events", "text/event-stream", [this](const HttpRequest&) {
    streams_->Labels({}).Add(1);
    // The stream starts with the events published from now on, after a hello that carries
    // nothing but tells the page the stream is open.
    auto seq = std::make_shared<uint64_t>(hub_->seq());
    auto hello = std::make_shared<bool>(true);
    // Decrements the gauge when the stream (and this producer) is gone.
    auto open = std::shared_ptr<void>(nullptr, [this](void*) { streams_->Labels({}).Add(-1); });
    return StreamProducer([this, seq, hello, open](std::string* chunk) {
      if (*hello) {
        *hello = false;
        *chunk = "retry: 1000\nevent: hello\ndata: {}\n\n";
        return true;
      }
      if (hub_->closed()) return false;
      *chunk = hub_->Next(seq.get(), std::chrono::milliseconds(1000));
      if (chunk->empty()) *chunk = ": keep-alive\n\n";
      return !hub_->closed();
    });
  });

  auto serve_asset = [](const std::string& path) {
    const WebAsset* asset = FindWebAsset(path);
    if (asset == nullptr) return HttpResponse::Error(404, absl::StrCat("no page at '", path, "'"));
    HttpResponse r = HttpResponse::Text(
        std::string(reinterpret_cast<const char*>(asset->data), asset->size), asset->content_type);
    r.headers["Cache-Control"] = "no-cache";
    return r;
  };
  server->Get("/", [serve_asset](const HttpRequest&) { return serve_asset("/index.html"); });
  server->Get("/favicon.ico", [](const HttpRequest&) {
    HttpResponse none = HttpResponse::Text("", "image/x-icon");
    none.status = 204;
    return none;
  });
  server->Get(R"(/static/[A-Za-z0-9_.\-]+)",
              [serve_asset](const HttpRequest& req) { return serve_asset(req.path); });
}

}  // namespace ponder::monitor
