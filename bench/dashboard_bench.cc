// The dashboard over a long run: 10,000 steps x 200 series (and 256 samples for each of the
// last 50 steps). Prints the time to read the run, and each API response's size and time,
// downsampled (what the page asks for) beside the raw series; then, with Chromium present,
// the time the page takes to show the overview and a section of 20 charts
// (bench/dashboard_page.py).
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "monitor/dashboard.h"
#include "monitor/run_store.h"

namespace ponder::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kSteps = 10000;
constexpr int kSeries = 200;
constexpr int kSampleSteps = 50;
constexpr int kSamplesPerStep = 256;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// The overview's names first, then filler sections, 200 in all.
std::vector<std::string> SeriesNames() {
  std::vector<std::string> names = {"reward/score/mean",
                                    "reward/accuracy",
                                    "val/math/mean@4",
                                    "val/math/pass@4",
                                    "rollout/response_len/mean",
                                    "rollout/response_len/max",
                                    "rollout/response_len/min",
                                    "rollout/truncation_rate",
                                    "actor/entropy",
                                    "kl_ref/mean",
                                    "actor/ppo_kl",
                                    "actor/clipfrac",
                                    "rollout/logp_mismatch/mean",
                                    "reward/zero_std_group_frac",
                                    "perf/gen_tokens_per_s",
                                    "perf/train_tokens_per_s",
                                    "timing/step_s",
                                    "timing/gen_s",
                                    "timing/reward_s",
                                    "timing/update_s",
                                    "timing/sync_s",
                                    "actor/pg_loss",
                                    "actor/grad_norm"};
  for (int i = 0; static_cast<int>(names.size()) < kSeries; ++i) {
    names.push_back(absl::StrCat("section", i % 12, "/metric_", i));
  }
  return names;
}

void WriteRun(const std::string& dir, const std::vector<std::string>& names) {
  fs::remove_all(dir);
  fs::create_directories(dir + "/samples");
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 1);
  std::ofstream metrics(dir + "/metrics.jsonl");
  for (int step = 1; step <= kSteps; ++step) {
    json m = json::object();
    for (size_t i = 0; i < names.size(); ++i) {
      m[names[i]] = std::sin(step / (50.0 + i)) + 0.1 * noise(rng);
    }
    metrics << json({{"step", step}, {"wall_time", 1.7e9 + step}, {"metrics", m}}).dump() << "\n";
  }
  for (int step = kSteps - kSampleSteps + 1; step <= kSteps; ++step) {
    std::ofstream samples(absl::StrCat(dir, "/samples/step_", step, ".jsonl"));
    for (int i = 0; i < kSamplesPerStep; ++i) {
      const std::string response(400 + (i * 37) % 800, 'a' + i % 26);
      samples << json({{"step", step},
                       {"prompt_uid", step * 1000 + i / 8},
                       {"origin", absl::StrCat("data.jsonl:", i / 8)},
                       {"sample_index", i % 8},
                       {"prompt", absl::StrCat("Problem ", i / 8, ": compute something.")},
                       {"response", response},
                       {"score", (i % 3) == 0 ? 1.0 : 0.0},
                       {"advantage", (i % 3) == 0 ? 0.8 : -0.4},
                       {"finish_reason", i % 10 == 0 ? "length" : "stop"},
                       {"response_tokens", response.size() / 4},
                       {"details", {{"extracted", response.substr(0, 3)}}}})
                     .dump()
              << "\n";
    }
  }
}

struct Timing {
  double median_ms;
  size_t bytes;
};

Timing Time(httplib::Client& client, const std::string& path, int repeats = 7) {
  std::vector<double> ms;
  size_t bytes = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    auto res = client.Get(path.c_str());
    ms.push_back(Ms(start));
    if (!res || res->status != 200) {
      std::fprintf(stderr, "GET %s failed\n", path.c_str());
      std::exit(1);
    }
    bytes = res->body.size();
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], bytes};
}

void Row(const char* what, const Timing& t) {
  std::printf("  %-66s %8.1f ms %9.1f KB\n", what, t.median_ms, t.bytes / 1024.0);
}

int Main() {
  const std::string root = (fs::temp_directory_path() / "ponder_bench_dashboard").string();
  const std::string dir = root + "/big";
  const std::vector<std::string> names = SeriesNames();
  auto start = Clock::now();
  WriteRun(dir, names);
  std::printf(
      "run: %d steps x %d series, %d sample files of %d samples; metrics.jsonl %.1f MB "
      "(written in %.1f s)\n",
      kSteps, kSeries, kSampleSteps, kSamplesPerStep, fs::file_size(dir + "/metrics.jsonl") / 1e6,
      Ms(start) / 1000);

  start = Clock::now();
  monitor::RunStore store("big", dir);
  if (!store.Refresh().ok()) return 1;
  std::printf("reading the run once (what the dashboard does at start): %.0f ms\n", Ms(start));

  auto server = monitor::HttpServer::Create({});
  if (!server.ok()) return 1;
  monitor::DashboardOptions options;
  options.runs = root;
  auto dashboard = monitor::Dashboard::Create(server->get(), options);
  if (!dashboard.ok()) return 1;
  (*server)->Start();
  httplib::Client client("127.0.0.1", (*server)->port());

  // The overview asks for its ~23 names in 12 requests at about twice the chart width in
  // points; here in one request, and each name alone.
  const std::vector<std::string> overview(names.begin(), names.begin() + 23);
  std::printf("\nresponses (median of 7, loopback):\n");
  Row("/api/runs", Time(client, "/api/runs"));
  Row("/api/run (200 names, sample steps)", Time(client, "/api/run?run=big"));
  Row("/api/series 1 name, 1000 points (a chart)",
      Time(client, "/api/series?run=big&names=reward/score/mean&max_points=1000"));
  Row("/api/series 1 name, raw 10000 points (baseline: no downsampling)",
      Time(client, "/api/series?run=big&names=reward/score/mean&max_points=100000"));
  Row("/api/series 23 overview names, 1000 points each",
      Time(client, "/api/series?run=big&max_points=1000&names=" + absl::StrJoin(overview, ",")));
  Row("/api/series 23 overview names, raw (baseline)",
      Time(client, "/api/series?run=big&max_points=100000&names=" + absl::StrJoin(overview, ",")));
  Row("/api/series all 200 names, 300 points each (section view)",
      Time(client, "/api/series?run=big&max_points=300&names=" + absl::StrJoin(names, ",")));
  Row("/api/series all 200 names, raw (baseline)",
      Time(client, "/api/series?run=big&max_points=100000&names=" + absl::StrJoin(names, ","), 3));
  Row("/api/series 1 name, zoomed to steps 5000-5200",
      Time(client, "/api/series?run=big&names=reward/score/mean&from=5000&to=5200"));
  Row("/api/steps (timeline, last 100 steps)", Time(client, "/api/steps?run=big"));
  Row("/api/samples 256 samples, sorted by score", Time(client, "/api/samples?run=big&sort=score"));
  Row("/api/samples text search", Time(client, "/api/samples?run=big&q=aaaa"));
  Row("/api/sample one sample", Time(client, "/api/sample?run=big&step=10000&index=5"));
  Row("/api/prompt one prompt across 50 files",
      Time(client, "/api/prompt?run=big&origin=data.jsonl:3", 3));
  Row("/metrics", Time(client, "/metrics"));

  const std::string page_script =
      std::string(std::getenv("PONDER_SOURCE_DIR") != nullptr ? std::getenv("PONDER_SOURCE_DIR")
                                                              : ".") +
      "/bench/dashboard_page.py";
  if (fs::exists("/usr/bin/chromium") && fs::exists(page_script)) {
    std::printf("\nthe page in headless Chromium:\n");
    std::fflush(stdout);
    const std::string command =
        absl::StrCat("/usr/bin/python3 ", page_script, " --url ", (*server)->url(), "/#run=big");
    if (std::system(command.c_str()) != 0) std::printf("  (the page benchmark failed)\n");
  }
  (*dashboard)->Stop();
  (*server)->Stop();
  fs::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
