#include "trainer/packed_batch.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/batching.h"

namespace ponder::trainer {
namespace {

absl::Status FromTorch(const c10::Error& e, const char* what) {
  return absl::InternalError(absl::StrCat(what, " failed: ", e.what_without_backtrace()));
}

// The longest row and the longest response among `rows`.
std::pair<int64_t, int64_t> Widths(const PackedBatch& b, const std::vector<int64_t>& rows) {
  int64_t L = 0, T = 0;
  for (int64_t r : rows) {
    L = std::max(L, b.lengths[r]);
    T = std::max(T, b.response_lengths[r]);
  }
  return {L, T};
}

}  // namespace

PackedBatch Pack(const std::vector<Trajectory>& batch, at::ScalarType dtype, c10::Device device) {
  PackedBatch p;
  p.size = static_cast<int64_t>(batch.size());
  p.dtype = dtype;
  p.device = device;
  int64_t L = 0, T = 0;
  for (const Trajectory& t : batch) {
    const int64_t P = static_cast<int64_t>(t.prompt_ids.size());
    const int64_t R = static_cast<int64_t>(t.response_ids.size());
    p.lengths.push_back(P + R);
    p.response_lengths.push_back(R);
    L = std::max(L, P + R);
    T = std::max(T, R);
  }
  at::Tensor tokens = at::zeros({p.size, L}, at::kLong);
  at::Tensor attention = at::zeros({p.size, L}, at::kLong);
  at::Tensor targets = at::full({p.size, L}, -1, at::kLong);
  at::Tensor positions = at::zeros({p.size, T}, at::kLong);
  at::Tensor mask = at::zeros({p.size, T}, at::kDouble);
  auto tk = tokens.accessor<int64_t, 2>();
  auto at_ = attention.accessor<int64_t, 2>();
  auto tg = targets.accessor<int64_t, 2>();
  auto ps = positions.accessor<int64_t, 2>();
  auto mk = mask.accessor<double, 2>();
  for (int64_t b = 0; b < p.size; ++b) {
    const Trajectory& t = batch[b];
    const int64_t P = static_cast<int64_t>(t.prompt_ids.size());
    for (int64_t j = 0; j < P; ++j) tk[b][j] = t.prompt_ids[j];
    for (int64_t r = 0; r < static_cast<int64_t>(t.response_ids.size()); ++r) {
      tk[b][P + r] = t.response_ids[r];
      tg[b][P + r - 1] = t.response_ids[r];  // predicted from the position before it
      ps[b][r] = P + r - 1;
      mk[b][r] = 1.0;
    }
    for (int64_t j = 0; j < P + static_cast<int64_t>(t.response_ids.size()); ++j) at_[b][j] = 1;
  }
  p.tokens = tokens.to(device);
  p.attention_mask = attention.to(device);
  p.targets = targets.to(device);
  p.positions = positions.to(device);
  p.mask = mask.to(device, dtype);
  return p;
}

at::Tensor RowIndex(const std::vector<int64_t>& rows, c10::Device device) {
  return at::tensor(rows, at::kLong).to(device);
}

at::Tensor Rows(const at::Tensor& x, const at::Tensor& rows, int64_t width) {
  return x.index_select(0, rows).narrow(1, 0, width);
}

int64_t ResponseWidth(const PackedBatch& b, const std::vector<int64_t>& rows) {
  return Widths(b, rows).second;
}

absl::StatusOr<RowScores> ScoreRows(TrainablePolicy& model, const PackedBatch& b,
                                    const std::vector<int64_t>& rows, bool entropy) {
  const auto [L, T] = Widths(b, rows);
  at::Tensor idx = RowIndex(rows, b.device);
  absl::StatusOr<TokenScores> scores;
  try {
    scores = model.Score(Rows(b.tokens, idx, L), Rows(b.attention_mask, idx, L),
                         Rows(b.targets, idx, L), entropy);
  } catch (const c10::Error& e) {
    return FromTorch(e, "policy forward");
  }
  if (!scores.ok()) return scores.status();
  at::Tensor positions = Rows(b.positions, idx, T);
  RowScores out;
  out.log_probs = scores->log_probs.gather(1, positions).to(b.dtype);
  if (entropy && scores->entropy.defined()) {
    out.entropy = scores->entropy.gather(1, positions).to(b.dtype);
  }
  return out;
}

absl::StatusOr<at::Tensor> ValueRows(ValueModel& critic, const PackedBatch& b,
                                     const std::vector<int64_t>& rows) {
  const auto [L, T] = Widths(b, rows);
  at::Tensor idx = RowIndex(rows, b.device);
  absl::StatusOr<at::Tensor> values;
  try {
    values = critic.Values(Rows(b.tokens, idx, L), Rows(b.attention_mask, idx, L));
  } catch (const c10::Error& e) {
    return FromTorch(e, "critic forward");
  }
  if (!values.ok()) return values.status();
  return values->gather(1, Rows(b.positions, idx, T)).to(b.dtype);
}

absl::StatusOr<at::Tensor> FillAll(const PackedBatch& b, int64_t max_tokens, const RowsFn& fn) {
  std::vector<int64_t> all(b.size);
  for (int64_t i = 0; i < b.size; ++i) all[i] = i;
  return FillRows(b, all, max_tokens, fn);
}

absl::StatusOr<at::Tensor> FillRows(const PackedBatch& b, const std::vector<int64_t>& some,
                                    int64_t max_tokens, const RowsFn& fn) {
  at::NoGradGuard no_grad;
  at::Tensor out = at::zeros_like(b.mask);
  for (const auto& rows : PackMicroBatches(some, b.lengths, max_tokens)) {
    PONDER_ASSIGN_OR_RETURN(at::Tensor part, fn(rows));
    at::Tensor idx = RowIndex(rows, b.device);
    out.index_copy_(0, idx, at::constant_pad_nd(part, {0, out.size(1) - part.size(1)}));
  }
  return out * b.mask;
}

}  // namespace ponder::trainer
