// The chunked log-prob / entropy function (see internal/chunked_log_probs.h).
//
// For logits z = h W^T of one token, p = softmax(z), target t:
//   log p_t = z_t - logsumexp(z),            d/dz = onehot(t) - p
//   H = -sum_j p_j log p_j,                  d/dz_j = -p_j (log p_j + H)
// so the gradient with respect to z is g_lp (onehot - p) - g_H p (log p + H), and then
// dL/dh = g_z W, dL/dW = g_z^T h, accumulated chunk by chunk. When the whole [N x V] log-prob
// matrix fits the keep budget, the forward keeps it and the backward skips recomputing the
// logits (one of the four vocabulary-sized matrix products); otherwise each chunk's logits
// are recomputed and nothing vocabulary-sized outlives a chunk.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "model/internal/chunked_log_probs.h"

namespace ponder::model::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Row-wise dot products of two [rows, V] matrices, without a [rows, V] temporary.
at::Tensor RowDot(const at::Tensor& a, const at::Tensor& b) {
  return at::bmm(a.unsqueeze(1), b.unsqueeze(2)).view({a.size(0)});
}

struct ChunkedLogProbsFunction : public torch::autograd::Function<ChunkedLogProbsFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden,
                               const at::Tensor& weight, const at::Tensor& targets, int64_t chunk,
                               bool entropy, int64_t keep_bytes) {
    const int64_t n = hidden.size(0);
    const bool keep = n * weight.size(0) * static_cast<int64_t>(sizeof(float)) <= keep_bytes;
    at::Tensor kept =
        keep ? at::empty({n, weight.size(0)}, hidden.options().dtype(at::kFloat)) : at::Tensor();
    at::Tensor w = weight.to(at::kFloat);
    at::Tensor valid = targets.ge(0);
    at::Tensor safe_targets = targets.clamp_min(0);
    at::Tensor log_probs = at::zeros({n}, hidden.options().dtype(at::kFloat));
    at::Tensor lse_all = at::zeros({n}, hidden.options().dtype(at::kFloat));
    at::Tensor ent = entropy ? at::zeros({n}, hidden.options().dtype(at::kFloat)) : at::Tensor();
    for (int64_t begin = 0; begin < n; begin += chunk) {
      const int64_t len = std::min(chunk, n - begin);
      at::Tensor z = at::matmul(hidden.narrow(0, begin, len).to(at::kFloat), w.t());
      at::Tensor lse = at::logsumexp(z, 1);
      lse_all.narrow(0, begin, len).copy_(lse);
      at::Tensor zt = z.gather(1, safe_targets.narrow(0, begin, len).unsqueeze(1)).squeeze(1);
      log_probs.narrow(0, begin, len).copy_(zt - lse);
      if (entropy || keep) {
        at::Tensor logp = keep ? kept.narrow(0, begin, len) : at::empty_like(z);
        at::sub_out(logp, z, lse.unsqueeze(1));
        if (entropy) ent.narrow(0, begin, len).copy_(RowDot(logp.exp(), logp).neg_());
      }
    }
    log_probs.mul_(valid);
    if (entropy) ent.mul_(valid);
    ctx->save_for_backward({hidden, weight, targets, lse_all});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["entropy"] = entropy;
    if (keep) ctx->saved_data["log_probs"] = kept;
    ctx->set_materialize_grads(false);
    if (entropy) return {log_probs, ent};
    return {log_probs};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list saved = ctx->get_saved_variables();
    const at::Tensor& hidden = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& targets = saved[2];
    const at::Tensor& lse_all = saved[3];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const bool entropy = ctx->saved_data["entropy"].toBool();
    auto kept_it = ctx->saved_data.find("log_probs");
    const at::Tensor kept =
        kept_it != ctx->saved_data.end() ? kept_it->second.toTensor() : at::Tensor();
    at::Tensor g_lp = grads[0];
    at::Tensor g_ent = entropy && grads.size() > 1 ? grads[1] : at::Tensor();
    const bool need_h = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    if ((!g_lp.defined() && !g_ent.defined()) || (!need_h && !need_w)) {
      return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    const int64_t n = hidden.size(0);
    at::Tensor w = weight.to(at::kFloat);
    at::Tensor valid = targets.ge(0).to(at::kFloat);
    at::Tensor safe_targets = targets.clamp_min(0);
    at::Tensor grad_h = need_h ? at::zeros({n, hidden.size(1)}, w.options()) : at::Tensor();
    at::Tensor grad_w = need_w ? at::zeros_like(w) : at::Tensor();
    for (int64_t begin = 0; begin < n; begin += chunk) {
      const int64_t len = std::min(chunk, n - begin);
      at::Tensor h = hidden.narrow(0, begin, len).to(at::kFloat);
      at::Tensor logp = kept.defined()
                            ? kept.narrow(0, begin, len)
                            : at::matmul(h, w.t()).sub_(lse_all.narrow(0, begin, len).unsqueeze(1));
      at::Tensor p = logp.exp();
      at::Tensor vmask = valid.narrow(0, begin, len);
      // gz = p * (a + b logp) with a = -(g_lp + g_H H) and b = -g_H, then + g_lp at the
      // target: few passes over the [len x V] chunk.
      at::Tensor g_lp_rows = g_lp.defined() ? g_lp.narrow(0, begin, len).to(at::kFloat) * vmask
                                            : at::zeros({len}, vmask.options());
      at::Tensor gz;
      if (g_ent.defined()) {
        at::Tensor g_h = g_ent.narrow(0, begin, len).to(at::kFloat) * vmask;
        at::Tensor h_ent = RowDot(p, logp).neg_();
        at::Tensor a = (g_lp_rows + g_h * h_ent).neg_().unsqueeze(1);
        gz = at::addcmul(a, logp, g_h.neg().unsqueeze(1)).mul_(p);
      } else {
        gz = p.mul_(g_lp_rows.neg().unsqueeze(1));
      }
      if (g_lp.defined()) {
        gz.scatter_add_(1, safe_targets.narrow(0, begin, len).unsqueeze(1), g_lp_rows.unsqueeze(1));
      }
      if (need_h) grad_h.narrow(0, begin, len).copy_(at::matmul(gz, w));
      if (need_w) grad_w.add_(at::matmul(gz.t(), h));
    }
    return {need_h ? grad_h.to(hidden.scalar_type()) : at::Tensor(),
            need_w ? grad_w.to(weight.scalar_type()) : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

ChunkedLogProbs TokenLogProbsChunked(const at::Tensor& hidden, const at::Tensor& weight,
                                     const at::Tensor& targets, int64_t chunk_tokens, bool entropy,
                                     int64_t keep_bytes) {
  variable_list out = ChunkedLogProbsFunction::apply(
      hidden, weight, targets, std::max<int64_t>(1, chunk_tokens), entropy, keep_bytes);
  ChunkedLogProbs result;
  result.log_probs = out[0];
  if (entropy) result.entropy = out[1];
  return result;
}

}  // namespace ponder::model::internal
