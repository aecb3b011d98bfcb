// The stop rules applied after each token of a sample, and the sampling settings of a request
// as the token sampler takes them. The sampler itself (SampleRow, ChooseToken, UniformDraw) is
// model/sampling.h, shared with single-sequence generation (`ponder generate --prompt`).
//
// Plain C++ (no LibTorch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/sampling.h"
#include "rollout/rollout_options.h"

namespace ponder::rollout {

using model::TokenChoice;

// The fields of `sampling` that shape the distribution (temperature, top-k, top-p, min-p,
// repetition penalty).
model::SamplingParams TokenSampling(const SamplingOptions& sampling);

// Whether `tokens` ends with the same `ngram`-token block repeated `count` times in a row.
bool EndsWithRepetition(const std::vector<int32_t>& tokens, int64_t ngram, int64_t count);

// Whether one of `stops` occurs in `text` ending at or after byte `new_from` (the text
// appended since the last check).
bool HasStopString(const std::string& text, size_t new_from, const std::vector<std::string>& stops);

}  // namespace ponder::rollout
