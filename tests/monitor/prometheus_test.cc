// Prometheus text exposition: exact text for a small registry (written by hand from the
// format's rules), and promtool (Debian's `prometheus` package) accepts it.
#include "monitor/prometheus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "tests/monitor/monitor_testing.h"
#include "tests/testing.h"

namespace ponder::monitor {
namespace {

using ::testing::HasSubstr;

TEST(PrometheusTest, ExpositionOfEachKind) {
  Registry registry;
  Family<Counter>& rpcs =
      registry.AddCounter("ponder_rpc_total", "Finished RPCs.", {"method", "code"});
  Family<Gauge>& queue = registry.AddGauge("ponder_queue_depth", "Waiting\\requests\nnow.");
  Family<Histogram>& latency =
      registry.AddHistogram("ponder_verify_seconds", "Latency.", {"verifier"}, {0.1, 1, 2.5});
  rpcs.Labels({"Generate", "OK"}).Inc();
  rpcs.Labels({"Generate", "OK"}).Inc(2);
  rpcs.Labels({"Score", "say \"hi\"\\\n"}).Inc();
  queue.Labels({}).Set(7);
  queue.Labels({}).Add(-2.5);
  for (double v : {0.05, 0.1, 0.5, 3.0}) latency.Labels({"math"}).Observe(v);

  EXPECT_EQ(registry.Exposition(),
            "# HELP ponder_rpc_total Finished RPCs.\n"
            "# TYPE ponder_rpc_total counter\n"
            "ponder_rpc_total{method=\"Generate\",code=\"OK\"} 3\n"
            "ponder_rpc_total{method=\"Score\",code=\"say \\\"hi\\\"\\\\\\n\"} 1\n"
            "# HELP ponder_queue_depth Waiting\\\\requests\\nnow.\n"
            "# TYPE ponder_queue_depth gauge\n"
            "ponder_queue_depth 4.5\n"
            "# HELP ponder_verify_seconds Latency.\n"
            "# TYPE ponder_verify_seconds histogram\n"
            "ponder_verify_seconds_bucket{verifier=\"math\",le=\"0.1\"} 2\n"
            "ponder_verify_seconds_bucket{verifier=\"math\",le=\"1\"} 3\n"
            "ponder_verify_seconds_bucket{verifier=\"math\",le=\"2.5\"} 3\n"
            "ponder_verify_seconds_bucket{verifier=\"math\",le=\"+Inf\"} 4\n"
            "ponder_verify_seconds_sum{verifier=\"math\"} 3.65\n"
            "ponder_verify_seconds_count{verifier=\"math\"} 4\n");
}

TEST(PrometheusTest, SpecialValuesAndCollectors) {
  Registry registry;
  Family<Gauge>& g = registry.AddGauge("g", "G.", {"k"});
  int scrapes = 0;
  registry.AddCollector([&] {
    ++scrapes;
    g.Labels({"nan"}).Set(std::nan(""));
    g.Labels({"pinf"}).Set(INFINITY);
    g.Labels({"ninf"}).Set(-INFINITY);
    g.Labels({"small"}).Set(1e-7);
    g.Labels({"third"}).Set(1.0 / 3);
  });
  const std::string text = registry.Exposition();
  EXPECT_EQ(scrapes, 1);
  EXPECT_THAT(text, HasSubstr("g{k=\"nan\"} NaN\n"));
  EXPECT_THAT(text, HasSubstr("g{k=\"pinf\"} +Inf\n"));
  EXPECT_THAT(text, HasSubstr("g{k=\"ninf\"} -Inf\n"));
  EXPECT_THAT(text, HasSubstr("g{k=\"small\"} 1e-07\n"));
  EXPECT_THAT(text, HasSubstr("g{k=\"third\"} 0.33333333333333331\n"));
}

TEST(PrometheusTest, ConcurrentUpdatesAddUp) {
  Registry registry;
  Family<Counter>& c = registry.AddCounter("c_total", "C.", {"t"});
  Family<Histogram>& h = registry.AddHistogram("h_seconds", "H.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Labels({"x"}).Inc();
        h.Labels({}).Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Labels({"x"}).value(), 40000);
  EXPECT_EQ(h.Labels({}).Read().cumulative.back(), 40000u);
  EXPECT_EQ(h.Labels({}).Read().sum, 20000);
}

TEST(PrometheusDeathTest, BadNamesAndLabelsAbortAtSetUp) {
  Registry registry;
  registry.AddGauge("ok_name", "x");
  EXPECT_DEATH(registry.AddGauge("ok_name", "x"), "metric 'ok_name' added twice");
  EXPECT_DEATH(registry.AddGauge("1bad", "x"), "bad metric name '1bad'");
  EXPECT_DEATH(registry.AddGauge("good", "x", {"__reserved"}), "bad label name '__reserved'");
  EXPECT_DEATH(registry.AddHistogram("h", "x", {"le"}), "cannot have a label named 'le'");
  EXPECT_DEATH(registry.AddHistogram("h2", "x", {}, {1, 0.5}), "strictly increasing");
  Family<Counter>& c = registry.AddCounter("c_total", "x", {"a"});
  EXPECT_DEATH(c.Labels({"1", "2"}), "c_total takes 1 label values, got 2");
  EXPECT_DEATH(c.Labels({"1"}).Inc(-1), "a counter cannot go down");
}

TEST(PrometheusTest, PromtoolAcceptsTheExposition) {
  Registry registry;
  registry.AddCounter("ponder_rpc_total", "Finished RPCs.", {"method", "code"})
      .Labels({"Generate", "OK"})
      .Inc();
  registry.AddGauge("ponder_kv_cache_bytes_used", "KV cache bytes in use.").Labels({}).Set(4096);
  auto& h = registry.AddHistogram("ponder_verify_seconds", "Verifier latency.", {"verifier"});
  h.Labels({"math"}).Observe(0.02);
  h.Labels({"code"}).Observe(1.5);
  const PromtoolResult r = PromtoolCheck(registry.Exposition());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // And it rejects what is not valid, so that the check means something.
  const PromtoolResult bad =
      PromtoolCheck("# HELP x_total X.\n# TYPE x_total counter\nx_total{a=1} 1\n");
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("parsing error in line 3"));
}

}  // namespace
}  // namespace ponder::monitor
