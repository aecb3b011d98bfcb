#include "trainer/progress.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ponder::trainer {

ProgressPrinter::ProgressPrinter(bool enabled, int64_t total, int64_t first_step)
    : enabled_(enabled),
      total_(total),
      first_step_(first_step),
      started_(std::chrono::steady_clock::now()) {}

namespace {

std::string EvalText(const monitor::Metrics& metrics, const char* separator) {
  std::string out;
  for (const auto& [name, value] : metrics) {
    if (name.find("@") != std::string::npos || name.find("greedy_acc") != std::string::npos) {
      absl::StrAppend(&out, separator, name.substr(name.rfind('/') + 1), " ",
                      absl::StrFormat("%.3f", value));
    }
  }
  return out;
}

std::string Duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600 ? absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                   : absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

void ProgressPrinter::Step(int64_t step, const monitor::Metrics& metrics) {
  if (last_step_ < 0) first_ = metrics;
  last_ = metrics;
  last_step_ = step;
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double per_step = elapsed / static_cast<double>(step - first_step_);
  const auto eta = static_cast<int64_t>(per_step * static_cast<double>(total_ - step));
  auto get = [&](const char* name) {
    auto it = metrics.find(name);
    return it == metrics.end() ? 0.0 : it->second;
  };
  std::fprintf(stderr,
               "step %lld/%lld | reward %.3f | acc %.3f | len %.1f | %.2f s/step | ETA "
               "%lld:%02lld\n",
               static_cast<long long>(step), static_cast<long long>(total_),
               get("reward/score/mean"), get("reward/accuracy"), get("rollout/response_len/mean"),
               get("timing/step_s"), static_cast<long long>(eta / 60),
               static_cast<long long>(eta % 60));
}

void ProgressPrinter::Eval(int64_t step, const monitor::Metrics& metrics) {
  last_eval_ = metrics;
  last_eval_step_ = step;
  if (!enabled_) return;
  const std::string line = absl::StrCat("eval  step ", step, EvalText(metrics, " | "));
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::string ProgressPrinter::SummaryLine() const {
  const int64_t steps = last_step_ < 0 ? 0 : last_step_ - first_step_;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::string line = absl::StrCat("done: ", steps, " steps in ", Duration(elapsed));
  if (steps > 0) {
    absl::StrAppend(&line, absl::StrFormat(" (%.2f s/step)", elapsed / static_cast<double>(steps)));
    for (const auto& [name, label] :
         {std::pair{"reward/score/mean", "reward"}, std::pair{"reward/accuracy", "acc"}}) {
      auto a = first_.find(name), b = last_.find(name);
      if (a != first_.end() && b != last_.end()) {
        absl::StrAppend(&line, absl::StrFormat(" | %s %.3f -> %.3f", label, a->second, b->second));
      }
    }
  }
  if (last_eval_step_ >= 0) {
    absl::StrAppend(&line, " | eval step ", last_eval_step_, ":", EvalText(last_eval_, " "));
  }
  return line;
}

void ProgressPrinter::Summary() const {
  if (enabled_) std::fprintf(stderr, "%s\n", SummaryLine().c_str());
}

}  // namespace ponder::trainer
