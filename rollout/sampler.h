// Choosing the next token of one sequence, and the stop rules applied after each token.
//
// The engine turns a batch of logits into log_softmax(logits / temperature) (and their exp)
// with tensor ops; ChooseToken then picks one row's token with the request's truncation rules
// and returns the behaviour log-prob: the log-probability of the chosen token under the
// distribution it was actually drawn from (after the repetition penalty, temperature, top-k,
// top-p and min-p, renormalised over the tokens kept). Greedy decoding (temperature 0) takes
// the argmax and reports its log-prob under the untempered distribution.
//
// Randomness is counter-based: the uniform number for token t of sample s of prompt p is a
// hash of (seed, p, s, t), so a sample's tokens do not depend on what else is in the batch, on
// the order of the steps, or on pauses and restarts (partial rollouts).
//
// Plain C++ (no LibTorch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rollout/rollout_options.h"

namespace ponder::rollout {

// A uniform double in [0, 1) (53 random bits) for the given coordinates.
double UniformDraw(uint64_t seed, uint64_t prompt_index, uint64_t sample_index,
                   uint64_t token_index);

struct TokenChoice {
  int32_t token = 0;
  float logprob = 0;
};

// Whether top-k, top-p or min-p remove any token for a vocabulary of `vocab` ids.
bool Truncates(const SamplingOptions& sampling, int64_t vocab);

// Picks the next token from one row of `vocab` entries:
//   logits     the (repetition-penalised) logits, for greedy decoding;
//   log_probs  log_softmax(logits / T), T = temperature, or 1 when greedy;
//   probs      exp(log_probs);
//   u          UniformDraw(...) for this token (unused when greedy).
// Sampling draws by inverse CDF over the kept tokens (in id order, or in order of decreasing
// probability when top-k/top-p sorted them). Truncation applies, in this order, top-k (the k
// most likely; ties keep the lower id), top-p (the fewest most likely tokens whose mass reaches
// top_p of what is left) and min-p (tokens at least min_p times the most likely one).
// Non-finite rows fall back to the argmax of the logits (NaN counting as -inf).
TokenChoice ChooseToken(const float* logits, const float* log_probs, const float* probs,
                        int64_t vocab, const SamplingOptions& sampling, double u);

// CTRL / transformers repetition penalty, in place: for each id in `ids` (each once), a
// positive logit is divided by `penalty` and a negative one multiplied by it.
void ApplyRepetitionPenalty(float* logits, const std::vector<int32_t>& ids, double penalty);

// Whether `tokens` ends with the same `ngram`-token block repeated `count` times in a row.
bool EndsWithRepetition(const std::vector<int32_t>& tokens, int64_t ngram, int64_t count);

// Whether one of `stops` occurs in `text` ending at or after byte `new_from` (the text
// appended since the last check).
bool HasStopString(const std::string& text, size_t new_from, const std::vector<std::string>& stops);

}  // namespace ponder::rollout
