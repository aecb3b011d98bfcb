// Log-probabilities of target tokens and entropies over a large vocabulary, computed a chunk
// of tokens at a time with a hand-written backward. When the [tokens x vocab] float32 log-prob
// matrix fits in `keep_bytes` it is kept for the backward; otherwise the backward recomputes
// each chunk's logits, so no [tokens x vocab] tensor outlives one chunk in either pass.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ponder::model::internal {

struct ChunkedLogProbs {
  at::Tensor log_probs;  // [N] float32
  at::Tensor entropy;    // [N] float32, undefined unless asked
};

// hidden [N, H] (any float dtype), weight [V, H] (the LM head), targets [N] int64 with
// negative = ignored (0 out, no gradient). Differentiable with respect to hidden and weight;
// the logits are computed as hidden @ weight^T in float32.
ChunkedLogProbs TokenLogProbsChunked(const at::Tensor& hidden, const at::Tensor& weight,
                                     const at::Tensor& targets, int64_t chunk_tokens, bool entropy,
                                     int64_t keep_bytes);

}  // namespace ponder::model::internal
