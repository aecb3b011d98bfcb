#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace ponder::model {
namespace {

float Clean(float x) { return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x; }

int32_t Argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  float best_value = Clean(logits[0]);
  for (int64_t i = 1; i < n; ++i) {
    float v = Clean(logits[i]);
    if (v > best_value) {
      best_value = v;
      best = i;
    }
  }
  return static_cast<int32_t>(best);
}

}  // namespace

int32_t SampleToken(const float* logits, int64_t n, const SamplingParams& params,
                    std::mt19937_64& rng) {
  if (params.temperature <= 0) return Argmax(logits, n);
  // A uniform double in [0, 1) from the top 53 bits, the same on every platform.
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  const double max_logit = Clean(logits[Argmax(logits, n)]);
  if (!std::isfinite(max_logit)) return Argmax(logits, n);
  std::vector<double> probs(static_cast<size_t>(n));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    probs[i] = std::exp((Clean(logits[i]) - max_logit) / params.temperature);
    total += probs[i];
  }
  std::vector<int32_t> order;
  double kept = total;
  if (params.top_p < 1.0) {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
    double cumulative = 0;
    size_t keep = 0;
    while (keep < order.size()) {
      cumulative += probs[order[keep]];
      ++keep;
      if (cumulative >= params.top_p * total) break;
    }
    order.resize(keep);
    kept = cumulative;
  } else {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
  }
  const double target = u * kept;
  double cumulative = 0;
  for (int32_t id : order) {
    cumulative += probs[id];
    if (target < cumulative) return id;
  }
  // Rounding left `target` at the very top: the last token that has any probability.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (probs[*it] > 0) return *it;
  }
  return order.back();
}

}  // namespace ponder::model
