// Prometheus metrics of a long-running process and their text exposition (format 0.0.4),
// served at /metrics (monitor/http_server.h). Operational numbers only: throughput, queue
// depth, KV use, latencies, errors. Per-step training curves stay in metrics.jsonl.
//
//   Registry registry;
//   auto& errors = registry.AddCounter("ponder_rpc_errors_total", "Failed RPCs.", {"method"});
//   errors.Labels({"Generate"}).Inc();
//   registry.AddCollector([&] { queue.Labels({}).Set(engine.waiting()); });  // at each scrape
//   std::string text = registry.Exposition();
//
// Families are created once, at set-up (their names are checked then); updating a metric is
// thread-safe and takes no lock but the family's, on the first use of a label set.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ponder::monitor {

class Counter {
 public:
  void Inc(double by = 1.0);  // `by` must be >= 0
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value); }
  void Add(double by);
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;        // upper bounds, increasing, without +Inf
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), last one is +Inf
  double sum_ = 0;
};

// One metric name with label names; a child per combination of label values.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for these label values (as many as the family's label names).
  T& Labels(const std::vector<std::string>& values);
  // Drops every child (for gauges rebuilt at each scrape).
  void Clear();

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Visits the children in label order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& f) const;

 private:
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// Default latency buckets, in seconds.
std::vector<double> DefaultLatencyBuckets();

class Registry {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unused, label names
  // [a-zA-Z_][a-zA-Z0-9_]* without the reserved "__" prefix (and not "le" for histograms);
  // these are fixed in code, so a bad one aborts.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names = {},
                                  std::vector<double> bounds = DefaultLatencyBuckets());

  // Runs before each exposition, e.g. to copy a backend's status into gauges.
  void AddCollector(std::function<void()> collect);

  // Every family in the order added: HELP, TYPE and samples (text format 0.0.4).
  std::string Exposition() const;

 private:
  void CheckNew(const std::string& name, const std::vector<std::string>& label_names) const;

  mutable std::mutex mu_;
  std::vector<std::function<void()>> collectors_;
  // The families in the order added; exactly one of the pointers is set.
  struct Entry {
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  std::vector<Entry> families_;
};

// The Content-Type of Exposition().
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ponder::monitor
