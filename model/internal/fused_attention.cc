#include "model/internal/fused_attention.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <atomic>
#include <cmath>

// at::scaled_dot_product_attention appeared in LibTorch 2.0; its `scale` argument in 2.1.
#if TORCH_VERSION_MAJOR >= 2
#define PONDER_HAVE_SDPA 1
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 1
#define PONDER_SDPA_HAS_SCALE 1
#endif
#endif

namespace ponder::model::internal {
namespace {

#ifdef PONDER_HAVE_SDPA
std::atomic<bool> fused_enabled{true};
#else
std::atomic<bool> fused_enabled{false};
#endif

}  // namespace

bool HaveFusedAttention() {
#ifdef PONDER_HAVE_SDPA
  return true;
#else
  return false;
#endif
}

void SetFusedAttention(bool on) { fused_enabled = on && HaveFusedAttention(); }

bool FusedAttentionEnabled() { return fused_enabled; }

at::Tensor FusedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const at::Tensor& allowed, double scale) {
#ifdef PONDER_HAVE_SDPA
  const int64_t B = q.size(0), Tq = q.size(1), H = q.size(2), hd = q.size(3);
  const int64_t Lk = k.size(1), kvh = k.size(2), rep = H / kvh;
  // Grouped heads: each key/value head serves `rep` query heads. The memory-efficient CUDA
  // kernel (the one that takes an arbitrary mask) wants them spelled out.
  auto heads = [&](const at::Tensor& t) {
    at::Tensor e =
        rep == 1 ? t : t.unsqueeze(3).expand({B, Lk, kvh, rep, hd}).reshape({B, Lk, H, hd});
    return e.transpose(1, 2);  // [B, H, Lk, hd]
  };
  at::Tensor mask = allowed.unsqueeze(1);  // [B, 1, Tq, Lk], broadcast over heads
#ifdef PONDER_SDPA_HAS_SCALE
  at::Tensor out = at::scaled_dot_product_attention(q.transpose(1, 2), heads(k), heads(v), mask,
                                                    /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
  // 2.0 scales by 1/sqrt(hd) always, which is what the decoder asks for.
  TORCH_CHECK(std::abs(scale * std::sqrt(static_cast<double>(hd)) - 1.0) < 1e-9,
              "LibTorch 2.0's fused attention has no scale argument");
  at::Tensor out = at::scaled_dot_product_attention(q.transpose(1, 2), heads(k), heads(v), mask,
                                                    /*dropout_p=*/0.0, /*is_causal=*/false);
#endif
  return out.transpose(1, 2).reshape({B, Tq, H * hd});
#else
  TORCH_CHECK(false, "FusedAttention needs LibTorch 2.0 or later");
  return {};
#endif
}

}  // namespace ponder::model::internal
