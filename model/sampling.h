// The token sampler: how the next token of a sequence is drawn from one row of logits. The
// rollout engine (every sample it makes) and single-sequence generation (GenerateIds, `ponder
// generate --prompt`) both sample with SampleRow, so the same prompt, seed and settings give
// the same tokens either way.
//
// SampleRow applies the repetition penalty, takes log_softmax(logits / temperature) (and its
// exp), then ChooseToken picks the token with the truncation rules and returns the behaviour
// log-prob: the log-probability of the chosen token under the distribution it was actually
// drawn from (after the repetition penalty, temperature, top-k, top-p and min-p, renormalised
// over the tokens kept). Greedy decoding (temperature 0) takes the argmax and reports its
// log-prob under the untempered distribution.
//
// Randomness is counter-based: the uniform number for token t of sample s of prompt p is a
// hash of (seed, p, s, t), so a sample's tokens do not depend on what else is in the batch, on
// the order of the steps, or on pauses and restarts (partial rollouts).
//
// Plain C++ (no LibTorch).
#pragma once

#include <cstdint>
#include <vector>

namespace ponder::model {

// What shapes the distribution a token is drawn from (rollout::SamplingOptions carries these
// and the stop rules).
struct SamplingParams {
  double temperature = 1.0;         // 0: greedy (argmax; the lowest id wins a tie)
  int64_t top_k = 0;                // keep the k most likely (0: off)
  double top_p = 1.0;               // keep the fewest most likely tokens reaching this mass
  double min_p = 0.0;               // drop tokens below min_p times the most likely one
  double repetition_penalty = 1.0;  // CTRL / transformers penalty on tokens already seen
};

// A uniform double in [0, 1) (53 random bits) for the given coordinates.
double UniformDraw(uint64_t seed, uint64_t prompt_index, uint64_t sample_index,
                   uint64_t token_index);

struct TokenChoice {
  int32_t token = 0;
  float logprob = 0;
};

// Whether top-k, top-p or min-p remove any token for a vocabulary of `vocab` ids.
bool Truncates(const SamplingParams& sampling, int64_t vocab);

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
                        int64_t vocab, const SamplingParams& sampling, double u);

// CTRL / transformers repetition penalty, in place: for each id in `ids` (each once), a
// positive logit is divided by `penalty` and a negative one multiplied by it.
void ApplyRepetitionPenalty(float* logits, const std::vector<int32_t>& ids, double penalty);

// Buffers SampleRow reuses across calls (one per thread).
struct SampleBuffers {
  std::vector<float> penalised, log_probs, probs;
};

// The whole step for one row of `vocab` float32 logits (left as they are): the repetition
// penalty over `seen_ids` (distinct ids; used only when the penalty is not 1), log_softmax of
// logits / temperature, then ChooseToken with the draw `u`.
TokenChoice SampleRow(const float* logits, int64_t vocab, const SamplingParams& sampling,
                      const std::vector<int32_t>& seen_ids, double u, SampleBuffers& buffers);

}  // namespace ponder::model
