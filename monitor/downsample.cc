#include "monitor/downsample.h"

#include <algorithm>
#include <cmath>

namespace ponder::monitor {

Series MinMaxDownsample(const Series& series, size_t max_points) {
  const size_t n = series.steps.size();
  if (max_points < 4) max_points = 4;
  if (n <= max_points) return series;
  const size_t buckets = max_points / 2;
  Series out;
  out.steps.reserve(max_points + 2);
  out.values.reserve(max_points + 2);
  auto emit = [&](size_t i) {
    if (!out.steps.empty() && out.steps.back() == series.steps[i]) return;
    out.steps.push_back(series.steps[i]);
    out.values.push_back(series.values[i]);
  };
  emit(0);
  for (size_t b = 0; b < buckets; ++b) {
    const size_t begin = b * n / buckets, end = (b + 1) * n / buckets;
    size_t lo = end, hi = end, nan = end;
    for (size_t i = begin; i < end; ++i) {
      const double v = series.values[i];
      if (std::isnan(v)) {
        if (nan == end) nan = i;
        continue;
      }
      if (lo == end || v < series.values[lo]) lo = i;
      if (hi == end || v > series.values[hi]) hi = i;
    }
    size_t picks[3] = {lo, hi, nan};
    std::sort(picks, picks + 3);
    for (size_t i : picks) {
      if (i != end) emit(i);
    }
  }
  emit(n - 1);
  return out;
}

}  // namespace ponder::monitor
