// Turns a step's logits into tokens: for each sampling sequence, model::SampleRow (the token
// sampler of model/sampling.h: repetition penalty, temperature, log_softmax, ChooseToken) on
// its row with the sequence's own uniform draw. Rows are processed one at a time per thread in
// buffers that stay in cache, in parallel over rows; several sequences may sample from one row
// (the samples of a prompt after its shared prefill), and the logits are left as they are.
#pragma once

#include <cstdint>
#include <vector>

#include "rollout/internal/sequence.h"
#include "rollout/sampler.h"

namespace ponder::rollout::internal {

struct RowSampler {
  const Sequence* seq;
  int64_t row;  // its row of the logits
};

// `logits` is [rows, vocab] float32 (row-major).
std::vector<TokenChoice> SampleRows(const float* logits, int64_t vocab,
                                    const std::vector<RowSampler>& samplers);

}  // namespace ponder::rollout::internal
