// The dashboard's HTTP API over a run directory written here, through a real HTTP client:
// runs, series (downsampled), samples with filters, one sample with its tokens, a prompt
// across steps, config redaction, errors, tokens, live events, and /metrics through promtool.
#include "monitor/dashboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "monitor/http_server.h"
#include "tests/monitor/monitor_testing.h"

namespace ponder::monitor {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json Sample(int uid, int index, double score, const std::string& response,
            const std::string& finish = "stop") {
  return {{"step", 2},
          {"prompt_uid", uid},
          {"origin", "builtin:arithmetic#" + std::to_string(uid % 2)},
          {"sample_index", index},
          {"prompt", "12+" + std::to_string(uid) + "="},
          {"response", response},
          {"score", score},
          {"correct", score > 0.5},
          {"components", {{"exact_match", score}}},
          {"details", {{"extracted", response.substr(0, 2)}}},
          {"advantage", score - 0.5},
          {"finish_reason", finish},
          {"response_tokens", response.size()}};
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/dashboard_runs";
    fs::remove_all(root_);
    run_ = root_ + "/tiny";
    fs::create_directories(run_ + "/samples");
    std::ofstream metrics(run_ + "/metrics.jsonl");
    for (int step = 1; step <= 300; ++step) {
      metrics << json({{"step", step},
                       {"wall_time", 1000 + step},
                       {"metrics",
                        {{"reward/score/mean", step % 7 == 0 ? 5.0 : 0.1 * (step % 3)},
                         {"timing/gen_s", 0.5},
                         {"timing/step_s", 1.0}}}})
                     .dump()
              << "\n";
    }
    metrics.close();
    std::ofstream samples(run_ + "/samples/step_2.jsonl");
    samples << Sample(10, 0, 1.0, "24 done").dump() << "\n"
            << Sample(10, 1, 0.0, "25 nope", "length").dump() << "\n"
            << Sample(11, 0, 1.0, "23 yes").dump() << "\n"
            << Sample(11, 1, 1.0, "23 yes again").dump() << "\n";
    samples.close();
    std::ofstream(run_ + "/samples/step_1.jsonl") << Sample(12, 0, 0.0, "99 old").dump() << "\n";
    std::ofstream(run_ + "/samples/step_2_tokens.jsonl")
        << json({{"prompt_uid", 10},
                 {"sample_index", 1},
                 {"tokens", {"2", "5", " ", "n"}},
                 {"logprobs", {-0.1, -2.0, -0.5, -0.2}},
                 {"behaviour_logprobs", {-0.1, -1.5, -0.5, -0.3}},
                 {"entropy", {0.2, 1.1, 0.4, 0.3}},
                 {"advantage", -0.5},
                 {"loss_mask", {1, 1, 1, 0}}})
               .dump()
        << "\n";
    std::ofstream(run_ + "/config.yaml")
        << "run:\n  name: tiny\nreward:\n  token: s3cret\n  timeout_s: 30\n"
           "rollout:\n  sampling: {max_new_tokens: 8}\n";
    Serve({});
  }

  void Serve(const std::string& token) {
    dashboard_.reset();
    server_.reset();
    HttpOptions http;
    http.token = token;
    auto server = HttpServer::Create(http);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    DashboardOptions options;
    options.runs = root_;
    options.poll_ms = 20;
    auto dashboard = Dashboard::Create(server_.get(), options);
    ASSERT_TRUE(dashboard.ok()) << dashboard.status();
    dashboard_ = std::move(*dashboard);
    server_->Start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  void TearDown() override {
    if (dashboard_) dashboard_->Stop();
    if (server_) server_->Stop();
  }

  // GET path; the JSON body, with the status in `status`.
  json Get(const std::string& path, int* status = nullptr) {
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    if (status != nullptr) *status = res->status;
    return json::parse(res->body, nullptr, false);
  }

  std::string root_, run_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(DashboardTest, RunsAndSeries) {
  json runs = Get("/api/runs");
  ASSERT_EQ(runs["runs"].size(), 1u);
  EXPECT_EQ(runs["runs"][0]["id"], "tiny");
  EXPECT_EQ(runs["runs"][0]["last_step"], 300);
  EXPECT_EQ(runs["runs"][0]["live"], false);  // wall times of 1970

  json run = Get("/api/run?run=tiny");
  EXPECT_THAT(run["names"], ElementsAre("reward/score/mean", "timing/gen_s", "timing/step_s"));
  EXPECT_THAT(run["sample_steps"], ElementsAre(1, 2));
  EXPECT_THAT(run["token_steps"], ElementsAre(2));

  json all = Get("/api/series?run=tiny&names=reward/score/mean,timing/gen_s&max_points=100000");
  EXPECT_EQ(all["series"]["reward/score/mean"]["step"].size(), 300u);
  EXPECT_EQ(all["raw_points"], 600);
  json few = Get("/api/series?run=tiny&names=reward/score/mean&max_points=20");
  const json& s = few["series"]["reward/score/mean"];
  EXPECT_LE(s["step"].size(), 22u);
  EXPECT_EQ(s["step"].front(), 1);
  EXPECT_EQ(s["step"].back(), 300);
  // Every spike (5.0 at multiples of 7) is too many to keep, but the maximum survives.
  EXPECT_THAT(s["value"], ::testing::Contains(5.0));
  json range = Get("/api/series?run=tiny&names=reward/score/mean&from=10&to=12");
  EXPECT_THAT(range["series"]["reward/score/mean"]["step"], ElementsAre(10, 11, 12));
  json unknown = Get("/api/series?run=tiny&names=nope");
  EXPECT_TRUE(unknown["series"]["nope"]["step"].empty());

  json steps = Get("/api/steps?run=tiny&from=299");
  EXPECT_THAT(steps["step"], ElementsAre(299, 300));
  EXPECT_THAT(steps["timing"]["timing/gen_s"], ElementsAre(0.5, 0.5));
}

TEST_F(DashboardTest, SamplesFiltersAndOneSampleWithTokens) {
  json all = Get("/api/samples?run=tiny");  // the newest step with samples
  EXPECT_EQ(all["step"], 2);
  EXPECT_EQ(all["total"], 4);
  EXPECT_EQ(all["has_tokens"], true);
  ASSERT_EQ(all["groups"].size(), 2u);
  EXPECT_EQ(all["groups"]["10"]["mean"], 0.5);
  EXPECT_EQ(all["groups"]["10"]["zero_variance"], false);
  EXPECT_EQ(all["groups"]["11"]["zero_variance"], true);
  EXPECT_EQ(all["samples"][0]["extracted"], "24");

  json truncated = Get("/api/samples?run=tiny&step=2&filter=truncated");
  ASSERT_EQ(truncated["matched"], 1);
  EXPECT_EQ(truncated["samples"][0]["index"], 1);
  json zero = Get("/api/samples?run=tiny&step=2&filter=zero_variance,correct");
  EXPECT_EQ(zero["matched"], 2);
  json sorted = Get("/api/samples?run=tiny&step=2&sort=length&order=asc");
  EXPECT_EQ(sorted["samples"][0]["index"], 2);  // "23 yes" is the shortest
  json text = Get("/api/samples?run=tiny&step=2&q=AGAIN");
  ASSERT_EQ(text["matched"], 1);
  EXPECT_EQ(text["samples"][0]["index"], 3);
  json group = Get("/api/samples?run=tiny&step=2&group=10&limit=1&offset=1");
  EXPECT_EQ(group["matched"], 2);
  ASSERT_EQ(group["samples"].size(), 1u);
  EXPECT_EQ(group["samples"][0]["index"], 1);

  json one = Get("/api/sample?run=tiny&step=2&index=1");
  EXPECT_EQ(one["sample"]["response"], "25 nope");
  EXPECT_EQ(one["extracted"], "25");
  EXPECT_THAT(one["tokens"]["tokens"], ElementsAre("2", "5", " ", "n"));
  EXPECT_TRUE(Get("/api/sample?run=tiny&step=2&index=0")["tokens"].is_null());

  json history = Get("/api/prompt?run=tiny&origin=builtin:arithmetic%230");
  ASSERT_EQ(history["samples"].size(), 3u);  // uids 10 (step 2) and 12 (step 1)
  EXPECT_EQ(history["samples"][0]["step"], 2);
  EXPECT_EQ(history["samples"][2]["step"], 1);
  EXPECT_EQ(history["samples"][2]["response"], "99 old");
}

TEST_F(DashboardTest, BadRequestsSayWhatIsWrong) {
  int status = 0;
  json r = Get("/api/run", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("give the run: ?run=<id>"));
  r = Get("/api/run?run=other", &status);
  EXPECT_EQ(status, 404);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("no run 'other'"));
  r = Get("/api/series?run=tiny&names=a&max_points=2", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("max_points must be between 4 and"));
  r = Get("/api/series?run=tiny&names=a&from=x", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("from must be an integer (got 'x')"));
  r = Get("/api/samples?run=tiny&step=2&sort=reward", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(),
              HasSubstr("sort must be one of score, advantage, length (got 'reward')"));
  r = Get("/api/samples?run=tiny&step=2&filter=truncated,wrong", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("(got 'wrong')"));
  r = Get("/api/samples?run=tiny&step=2&limit=5000", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("limit must be a whole number up to 1000"));
  r = Get("/api/samples?run=tiny&step=9", &status);
  EXPECT_EQ(status, 404);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("step_9.jsonl"));
  r = Get("/api/sample?run=tiny&step=2&index=4", &status);
  EXPECT_EQ(status, 404);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("step 2 has 4 samples; no index 4"));
  r = Get("/api/samples?run=tiny&kind=test", &status);
  EXPECT_EQ(status, 400);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("kind must be train or eval"));
  r = Get("/api/prompt?run=tiny", &status);
  EXPECT_EQ(status, 400);
  auto res = client_->Get("/static/nothing.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(DashboardTest, ConfigHidesTokensAndThePageIsServed) {
  json config = Get("/api/config?run=tiny");
  const std::string yaml = config["yaml"];
  EXPECT_THAT(yaml, HasSubstr("token: <redacted>"));
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("s3cret")));
  EXPECT_THAT(yaml, HasSubstr("max_new_tokens: 8"));

  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page->body, HasSubstr("<title>Ponder dashboard</title>"));
  for (const char* asset : {"/static/uPlot.iife.min.js", "/static/uPlot.min.css", "/static/app.js",
                            "/static/charts.js", "/static/samples.js", "/static/tokens.js",
                            "/static/views.js", "/static/style.css", "/static/uPlot.LICENSE.txt"}) {
    auto res = client_->Get(asset);
    ASSERT_TRUE(res) << asset;
    EXPECT_EQ(res->status, 200) << asset;
    EXPECT_GT(res->body.size(), 100u) << asset;
  }
  EXPECT_THAT(client_->Get("/static/uPlot.LICENSE.txt")->body, HasSubstr("MIT"));

  // What browsers ask for: gzip (fast) rather than brotli (slow at httplib's setting).
  auto packed =
      client_->Get("/static/uPlot.iife.min.js", {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(packed);
  EXPECT_EQ(packed->get_header_value("Content-Encoding"), "gzip");
  EXPECT_THAT(packed->body, HasSubstr("uPlot"));  // the client inflated it
}

TEST_F(DashboardTest, MetricsEndpointPassesPromtool) {
  Get("/api/runs");
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_THAT(res->body, HasSubstr("ponder_run_last_step{run=\"tiny\"} 300"));
  EXPECT_THAT(res->body, HasSubstr("ponder_dashboard_requests_total{route=\"/api/runs\"} 1"));
  const PromtoolResult check = PromtoolCheck(res->body);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << res->body;
}

TEST_F(DashboardTest, NewStepsArriveAsServerSentEvents) {
  std::string received;
  std::atomic<bool> got{false};
  httplib::Client events("127.0.0.1", server_->port());
  events.set_read_timeout(30, 0);
  std::thread reader([&] {
    events.Get("/api/events", [&](const char* data, size_t size) {
      received.append(data, size);
      if (received.find("event: hello") != std::string::npos && !got.load()) {
        // The stream is open: write a new step and its samples.
        std::ofstream(run_ + "/metrics.jsonl", std::ios::app)
            << "{\"step\":301,\"wall_time\":2000,\"metrics\":{\"reward/score/mean\":0.25}}\n";
        std::ofstream(run_ + "/samples/step_301.jsonl") << Sample(1, 0, 1, "x").dump() << "\n";
        fs::last_write_time(run_ + "/samples",
                            fs::last_write_time(run_ + "/samples") + std::chrono::seconds(5));
        got = true;
      }
      // Keep reading until both events came (or the read times out).
      return received.find("event: samples") == std::string::npos ||
             received.find("event: step") == std::string::npos;
    });
  });
  reader.join();
  EXPECT_THAT(received,
              HasSubstr("event: step\ndata: {\"last_step\":301,\"metrics\":{\"301\":{"
                        "\"reward/score/mean\":0.25}},\"run\":\"tiny\",\"steps\":[301]}"));
  EXPECT_THAT(
      received,
      HasSubstr("event: samples\ndata: {\"kind\":\"train\",\"run\":\"tiny\",\"step\":301}"));
}

TEST_F(DashboardTest, ATokenIsRequiredWhenSet) {
  Serve("tok3n");
  auto res = client_->Get("/api/runs");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_THAT(res->body, HasSubstr("requires a token"));
  res = client_->Get("/api/runs", {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(res->status, 401);
  res = client_->Get("/api/runs", {{"Authorization", "Bearer tok3n"}});
  EXPECT_EQ(res->status, 200);
  // ?token= once: the answer sets a cookie that works from then on.
  res = client_->Get("/?token=tok3n");
  EXPECT_EQ(res->status, 200);
  const std::string cookie = res->get_header_value("Set-Cookie");
  EXPECT_THAT(cookie, HasSubstr("ponder_token=tok3n"));
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  res = client_->Get("/api/runs", {{"Cookie", "other=1; ponder_token=tok3n"}});
  EXPECT_EQ(res->status, 200);
}

TEST(HttpServerTest, OffLoopbackATokenIsRequiredAndHostsAreChecked) {
  HttpOptions open;
  open.host = "0.0.0.0";
  auto refused = HttpServer::Create(open);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("not a loopback address, without a token"));
  EXPECT_THAT(refused.status().message(), HasSubstr("PONDER_MONITOR_TOKEN"));

  auto server = HttpServer::Create({});
  ASSERT_TRUE(server.ok());
  (*server)->Get("/x", [](const HttpRequest&) { return HttpResponse::Text("ok", "text/plain"); });
  (*server)->Start();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok");
  // A page elsewhere that rebinds its own name to 127.0.0.1 sends its own Host.
  res = client.Get("/x", {{"Host", "attacker.example:80"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);

  // The same port twice: a clear error.
  HttpOptions same;
  same.port = (*server)->port();
  auto second = HttpServer::Create(same);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("cannot listen on 127.0.0.1:"));
}

}  // namespace
}  // namespace ponder::monitor
