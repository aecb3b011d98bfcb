// Picking the next token from one row of logits: greedy, temperature and nucleus (top-p)
// sampling, reproducible from a seed. Plain C++ (no LibTorch) so it can serve any caller that
// has the logits on the host.
#pragma once

#include <cstdint>
#include <random>

namespace ponder::model {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy (argmax; the lowest id wins a tie)
  double top_p = 1.0;        // keep the most likely tokens whose probabilities reach top_p
};

// Returns a token id in [0, n). With temperature > 0, draws from softmax(logits / temperature)
// restricted to the nucleus; one draw consumes exactly one 64-bit value of `rng`.
// Non-finite logits never win: NaN counts as -inf.
int32_t SampleToken(const float* logits, int64_t n, const SamplingParams& params,
                    std::mt19937_64& rng);

}  // namespace ponder::model
