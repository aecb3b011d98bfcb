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

void ProgressPrinter::Step(int64_t step, const monitor::Metrics& metrics) const {
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

void ProgressPrinter::Eval(int64_t step, const monitor::Metrics& metrics) const {
  if (!enabled_) return;
  std::string line = absl::StrCat("eval  step ", step);
  for (const auto& [name, value] : metrics) {
    if (name.find("@") != std::string::npos || name.find("greedy_acc") != std::string::npos) {
      absl::StrAppend(&line, " | ", name.substr(name.rfind('/') + 1), " ",
                      absl::StrFormat("%.3f", value));
    }
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace ponder::trainer
