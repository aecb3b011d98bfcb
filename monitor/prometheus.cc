#include "monitor/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ponder::monitor {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + by)) {
  }
}

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "monitor::Registry: %s\n", message.c_str());
  std::abort();
}

// Sample values: Go's float formatting as Prometheus reads it, with its spellings of the
// special values.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.0f", v);
  // The shortest of %.15g and %.17g that reads back as the same double.
  std::string text = absl::StrFormat("%.15g", v);
  if (std::strtod(text.c_str(), nullptr) != v) text = absl::StrFormat("%.17g", v);
  return text;
}

std::string EscapeHelp(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeLabelValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} (nothing for no labels), with `extra` (e.g. le="0.5") last.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", EscapeLabelValue(values[i]),
                    "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

template <typename T>
void Header(std::string* out, const Family<T>& family, const char* type) {
  absl::StrAppend(out, "# HELP ", family.name(), " ", EscapeHelp(family.help()), "\n", "# TYPE ",
                  family.name(), " ", type, "\n");
}

}  // namespace

void Counter::Inc(double by) {
  if (by < 0) Fail("a counter cannot go down");
  AtomicAdd(value_, by);
}

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();  // le: <=
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[bucket];
  sum_ += value;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (uint64_t c : counts_) {
    total += c;
    s.cumulative.push_back(total);
  }
  s.sum = sum_;
  return s;
}

template <typename T>
T& Family<T>::Labels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    Fail(absl::StrCat(name_, " takes ", label_names_.size(), " label values, got ", values.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<T>& child = children_[values];
  if (!child) child = make_();
  return *child;
}

template <typename T>
void Family<T>::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  children_.clear();
}

template <typename T>
void Family<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& f) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, child] : children_) f(labels, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> DefaultLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void Registry::CheckNew(const std::string& name,
                        const std::vector<std::string>& label_names) const {
  if (!ValidName(name, /*allow_colon=*/true)) Fail(absl::StrCat("bad metric name '", name, "'"));
  for (const Entry& e : families_) {
    const std::string& used = e.counter ? e.counter->name()
                              : e.gauge ? e.gauge->name()
                                        : e.histogram->name();
    if (used == name) Fail(absl::StrCat("metric '", name, "' added twice"));
  }
  for (const std::string& label : label_names) {
    if (!ValidName(label, /*allow_colon=*/false) || label.rfind("__", 0) == 0) {
      Fail(absl::StrCat("bad label name '", label, "' of metric '", name, "'"));
    }
  }
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name, label_names);
  Entry e;
  e.counter = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                                [] { return std::make_unique<Counter>(); });
  families_.push_back(std::move(e));
  return *families_.back().counter;
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name, label_names);
  Entry e;
  e.gauge = std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                            [] { return std::make_unique<Gauge>(); });
  families_.push_back(std::move(e));
  return *families_.back().gauge;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name, label_names);
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    Fail(absl::StrCat("histogram '", name, "' cannot have a label named 'le'"));
  }
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
      !std::isfinite(bounds.back())) {
    Fail(absl::StrCat("histogram '", name, "' needs finite, strictly increasing bounds"));
  }
  Entry e;
  e.histogram = std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
  families_.push_back(std::move(e));
  return *families_.back().histogram;
}

void Registry::AddCollector(std::function<void()> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Exposition() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect();

  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : families_) {
    if (e.counter) {
      Header(&out, *e.counter, "counter");
      e.counter->ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
        absl::StrAppend(&out, e.counter->name(), LabelText(e.counter->label_names(), labels), " ",
                        FormatValue(c.value()), "\n");
      });
    } else if (e.gauge) {
      Header(&out, *e.gauge, "gauge");
      e.gauge->ForEach([&](const std::vector<std::string>& labels, const Gauge& g) {
        absl::StrAppend(&out, e.gauge->name(), LabelText(e.gauge->label_names(), labels), " ",
                        FormatValue(g.value()), "\n");
      });
    } else {
      const Family<Histogram>& family = *e.histogram;
      Header(&out, family, "histogram");
      family.ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
        const Histogram::Snapshot s = h.Read();
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          const std::string le = i < s.bounds.size()
                                     ? absl::StrCat("le=\"", FormatValue(s.bounds[i]), "\"")
                                     : std::string("le=\"+Inf\"");
          absl::StrAppend(&out, family.name(), "_bucket",
                          LabelText(family.label_names(), labels, le), " ", s.cumulative[i], "\n");
        }
        const std::string label_text = LabelText(family.label_names(), labels);
        absl::StrAppend(&out, family.name(), "_sum", label_text, " ", FormatValue(s.sum), "\n",
                        family.name(), "_count", label_text, " ", s.cumulative.back(), "\n");
      });
    }
  }
  return out;
}

}  // namespace ponder::monitor
