#include "rollout/internal/sample_rows.h"

#include <algorithm>

#include "model/parallel.h"

namespace ponder::rollout::internal {

std::vector<TokenChoice> SampleRows(const float* logits, int64_t vocab,
                                    const std::vector<RowSampler>& samplers) {
  const int64_t S = static_cast<int64_t>(samplers.size());
  std::vector<TokenChoice> out(static_cast<size_t>(S));
  // Rows of a large vocabulary each on their own; small ones together.
  model::ParallelFor(0, S, std::max<int64_t>(1, 65536 / vocab), [&](int64_t begin, int64_t end) {
    model::SampleBuffers buffers;
    for (int64_t i = begin; i < end; ++i) {
      const RowSampler& sampler = samplers[static_cast<size_t>(i)];
      const Sequence& seq = *sampler.seq;
      const SamplingOptions& s = seq.sampling();
      const double u = model::UniformDraw(s.seed, seq.prompt().prompt_index, seq.sample_index(),
                                          seq.generated().size());
      out[static_cast<size_t>(i)] = model::SampleRow(logits + sampler.row * vocab, vocab,
                                                     TokenSampling(s), seq.seen_ids(), u, buffers);
    }
  });
  return out;
}

}  // namespace ponder::rollout::internal
