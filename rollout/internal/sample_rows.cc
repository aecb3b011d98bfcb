#include "rollout/internal/sample_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/parallel.h"
#include "model/vec_math.h"

namespace ponder::rollout::internal {

std::vector<TokenChoice> SampleRows(const float* logits, int64_t vocab,
                                    const std::vector<RowSampler>& samplers) {
  const int64_t S = static_cast<int64_t>(samplers.size());
  std::vector<TokenChoice> out(static_cast<size_t>(S));
  const int64_t V = vocab;
  // Rows of a large vocabulary each on their own; small ones together.
  model::ParallelFor(0, S, std::max<int64_t>(1, 65536 / V), [&](int64_t begin, int64_t end) {
    std::vector<float> penalised, log_probs(static_cast<size_t>(V)), probs(static_cast<size_t>(V));
    for (int64_t i = begin; i < end; ++i) {
      const Sequence& seq = *samplers[static_cast<size_t>(i)].seq;
      const SamplingOptions& s = seq.sampling();
      const float* x = logits + samplers[static_cast<size_t>(i)].row * V;
      if (s.repetition_penalty != 1.0) {
        penalised.assign(x, x + V);
        ApplyRepetitionPenalty(penalised.data(), seq.seen_ids(), s.repetition_penalty);
        x = penalised.data();
      }
      // log_softmax(x / T) and its exp: one pass for the max, one for the exps and their sum,
      // one for the log-probs and the normalisation.
      const float inv_t = s.temperature > 0 ? static_cast<float>(1.0 / s.temperature) : 1.0f;
      const float m = model::MaxOf(x, V) * inv_t;
      const float sum = model::ExpSum(x, V, inv_t, m, probs.data());
      model::ScaleShift(x, V, inv_t, m + std::log(sum), log_probs.data());
      model::Scale(probs.data(), V, 1.0f / sum);
      const double u = UniformDraw(s.seed, seq.prompt().prompt_index, seq.sample_index(),
                                   seq.generated().size());
      out[static_cast<size_t>(i)] = ChooseToken(x, log_probs.data(), probs.data(), V, s, u);
    }
  });
  return out;
}

}  // namespace ponder::rollout::internal
