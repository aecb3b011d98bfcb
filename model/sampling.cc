#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/vec_math.h"

namespace ponder::model {
namespace {

// splitmix64's finaliser: a bijective mix of 64 bits.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

float Clean(float x) { return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x; }

int32_t Argmax(const float* x, int64_t n) {
  int64_t best = 0;
  float best_value = Clean(x[0]);
  for (int64_t i = 1; i < n; ++i) {
    const float v = Clean(x[i]);
    if (v > best_value) {
      best_value = v;
      best = i;
    }
  }
  return static_cast<int32_t>(best);
}

// Orders ids by decreasing probability, the lower id first among equals.
struct MoreLikely {
  const float* probs;
  bool operator()(int32_t a, int32_t b) const {
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
  }
};

}  // namespace

double UniformDraw(uint64_t seed, uint64_t prompt_index, uint64_t sample_index,
                   uint64_t token_index) {
  uint64_t h = Mix(seed);
  h = Mix(h ^ prompt_index);
  h = Mix(h ^ sample_index);
  h = Mix(h ^ token_index);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

bool Truncates(const SamplingParams& s, int64_t vocab) {
  return (s.top_k > 0 && s.top_k < vocab) || s.top_p < 1.0 || s.min_p > 0.0;
}

TokenChoice ChooseToken(const float* logits, const float* log_probs, const float* probs,
                        int64_t vocab, const SamplingParams& s, double u) {
  if (s.temperature <= 0) {
    const int32_t token = Argmax(logits, vocab);
    return {token, log_probs[token]};
  }
  if (!Truncates(s, vocab)) {
    double total = 0;
    for (int64_t i = 0; i < vocab; ++i) total += probs[i];
    if (!(total > 0) || !std::isfinite(total)) {
      const int32_t token = Argmax(logits, vocab);
      return {token, log_probs[token]};
    }
    const double target = u * total;
    double cumulative = 0;
    int32_t last_positive = -1;
    for (int64_t i = 0; i < vocab; ++i) {
      if (probs[i] <= 0) continue;
      cumulative += probs[i];
      last_positive = static_cast<int32_t>(i);
      if (target < cumulative) return {last_positive, log_probs[i]};
    }
    // Rounding left the target at the very top: the last token with any probability.
    return {last_positive, log_probs[last_positive]};
  }

  // Truncated: collect the kept ids.
  std::vector<int32_t> kept;
  kept.reserve(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) {
    if (probs[i] > 0) kept.push_back(static_cast<int32_t>(i));
  }
  if (kept.empty()) {
    const int32_t token = Argmax(logits, vocab);
    return {token, log_probs[token]};
  }
  const MoreLikely more_likely{probs};
  bool sorted = false;
  if (s.top_k > 0 && static_cast<size_t>(s.top_k) < kept.size()) {
    std::nth_element(kept.begin(), kept.begin() + s.top_k, kept.end(), more_likely);
    kept.resize(static_cast<size_t>(s.top_k));
  }
  if (s.top_p < 1.0) {
    double mass = 0;
    for (int32_t id : kept) mass += probs[id];
    const double goal = s.top_p * mass;
    // Sort only as much of the head as the nucleus needs: 64 ids, then 4x more at a time.
    size_t head = std::min<size_t>(64, kept.size());
    while (true) {
      if (head < kept.size()) {
        std::nth_element(kept.begin(), kept.begin() + head, kept.end(), more_likely);
      }
      std::sort(kept.begin(), kept.begin() + head, more_likely);
      double cumulative = 0;
      size_t keep = 0;
      while (keep < head && cumulative < goal) cumulative += probs[kept[keep++]];
      if (cumulative >= goal || head == kept.size()) {
        kept.resize(std::max<size_t>(keep, 1));
        break;
      }
      head = std::min(kept.size(), head * 4);
    }
    sorted = true;
  }
  if (s.min_p > 0.0) {
    float top = 0;
    for (int32_t id : kept) top = std::max(top, probs[id]);
    const double threshold = s.min_p * top;
    kept.erase(
        std::remove_if(kept.begin(), kept.end(), [&](int32_t id) { return probs[id] < threshold; }),
        kept.end());
  }
  if (!sorted && kept.size() < static_cast<size_t>(vocab)) std::sort(kept.begin(), kept.end());
  double total = 0;
  for (int32_t id : kept) total += probs[id];
  const double target = u * total;
  double cumulative = 0;
  int32_t token = kept.back();
  for (int32_t id : kept) {
    cumulative += probs[id];
    if (target < cumulative) {
      token = id;
      break;
    }
  }
  return {token, static_cast<float>(log_probs[token] - std::log(total))};
}

void ApplyRepetitionPenalty(float* logits, const std::vector<int32_t>& ids, double penalty) {
  const float p = static_cast<float>(penalty);
  for (int32_t id : ids) {
    float& x = logits[id];
    x = x > 0 ? x / p : x * p;
  }
}

TokenChoice SampleRow(const float* logits, int64_t vocab, const SamplingParams& s,
                      const std::vector<int32_t>& seen_ids, double u, SampleBuffers& buffers) {
  const auto V = static_cast<size_t>(vocab);
  const float* x = logits;
  if (s.repetition_penalty != 1.0) {
    buffers.penalised.assign(x, x + vocab);
    ApplyRepetitionPenalty(buffers.penalised.data(), seen_ids, s.repetition_penalty);
    x = buffers.penalised.data();
  }
  buffers.log_probs.resize(V);
  buffers.probs.resize(V);
  // log_softmax(x / T) and its exp: one pass for the max, one for the exps and their sum, one
  // for the log-probs and the normalisation.
  const float inv_t = s.temperature > 0 ? static_cast<float>(1.0 / s.temperature) : 1.0f;
  const float m = MaxOf(x, vocab) * inv_t;
  const float sum = ExpSum(x, vocab, inv_t, m, buffers.probs.data());
  ScaleShift(x, vocab, inv_t, m + std::log(sum), buffers.log_probs.data());
  Scale(buffers.probs.data(), vocab, 1.0f / sum);
  return ChooseToken(x, buffers.log_probs.data(), buffers.probs.data(), vocab, s, u);
}

}  // namespace ponder::model
