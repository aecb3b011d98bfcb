#include "rollout/sampler.h"

#include <algorithm>

namespace ponder::rollout {

model::SamplingParams TokenSampling(const SamplingOptions& s) {
  return {.temperature = s.temperature,
          .top_k = s.top_k,
          .top_p = s.top_p,
          .min_p = s.min_p,
          .repetition_penalty = s.repetition_penalty};
}

bool EndsWithRepetition(const std::vector<int32_t>& tokens, int64_t ngram, int64_t count) {
  if (ngram <= 0 || count <= 1) return false;
  const size_t n = static_cast<size_t>(ngram), span = n * static_cast<size_t>(count);
  if (tokens.size() < span) return false;
  const size_t block = tokens.size() - n;
  for (size_t k = 1; k < static_cast<size_t>(count); ++k) {
    const size_t other = block - k * n;
    if (!std::equal(tokens.begin() + other, tokens.begin() + other + n, tokens.begin() + block)) {
      return false;
    }
  }
  return true;
}

bool HasStopString(const std::string& text, size_t new_from,
                   const std::vector<std::string>& stops) {
  for (const std::string& stop : stops) {
    if (stop.empty() || stop.size() > text.size()) continue;
    const size_t start = new_from + 1 > stop.size() ? new_from + 1 - stop.size() : 0;
    if (text.find(stop, start) != std::string::npos) return true;
  }
  return false;
}

}  // namespace ponder::rollout
