// Per-token values of some rows of a step (Learner::Step's detail_rows, token_details.h), taken
// from tensors the step computes anyway: pi_old, the advantages and the loss mask after phase
// 4, the entropies from the rows' first policy-update forward pass (phase 5).
#include <ATen/ATen.h>

#include <algorithm>

#include "trainer/internal/learner_impl.h"

namespace ponder::trainer {
namespace {

// The first `n` values of row `row` of a [B, T] tensor, as floats.
std::vector<float> RowValues(const at::Tensor& x, int64_t row, int64_t n) {
  const at::Tensor values = x[row].slice(0, 0, n).detach().to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + n);
}

}  // namespace

void internal::KeepDetailEntropy(const StepData& d, const std::vector<int64_t>& rows,
                                 const at::Tensor& entropy) {
  if (!entropy.defined()) return;
  for (size_t k = 0; k < rows.size(); ++k) {
    const int64_t row = rows[k];
    if (d.detail_entropy.count(row) > 0 ||
        std::find(d.detail_rows.begin(), d.detail_rows.end(), row) == d.detail_rows.end()) {
      continue;
    }
    d.detail_entropy[row] = RowValues(entropy, static_cast<int64_t>(k), d.b.response_lengths[row]);
  }
}

std::vector<RowTokenDetail> Learner::Impl::TokenDetails(const StepData& d) const {
  std::vector<RowTokenDetail> out;
  for (int64_t row : d.detail_rows) {
    const int64_t n = d.b.response_lengths[row];
    RowTokenDetail r;
    r.row = row;
    r.logprobs = RowValues(d.old_logp, row, n);
    r.advantages = RowValues(d.adv.advantages, row, n);
    for (float m : RowValues(d.loss_mask, row, n)) r.loss_mask.push_back(m > 0 ? 1 : 0);
    if (auto it = d.detail_entropy.find(row); it != d.detail_entropy.end()) r.entropy = it->second;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ponder::trainer
