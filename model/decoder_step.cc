// The decoder's generation path: DecoderImpl::Step over a paged KV cache, with fused float32
// CPU kernels (cpu_kernels.h, gemm.h) and a device-independent tensor-op path.
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/decoder.h"
#include "model/internal/cpu_kernels.h"
#include "model/internal/decoder_layer.h"
#include "model/internal/gemm.h"
#include "model/kv_cache.h"
#include "model/parallel.h"

namespace ponder::model {
namespace internal {
namespace {

// Up to this many rows, weights are streamed once per row group (SmallMatmul: memory-bound
// decoding of a few sequences); from here on the packed GEMM, which reaches the FMA units.
constexpr int64_t kSmallMatmulRows = 4;

// Below this many multiply-adds, a product runs on the calling thread alone: waking the
// other threads would cost more than it saves.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

struct LinearJob {
  const float* w;
  const float* bias;
  float* y;
  int64_t out;
  int64_t first_unit;  // index of the job's first unit in the flat range of all jobs
};

// Runs units [begin, end) of the flat range over all jobs; a unit is `unit` outputs.
template <typename Fn>
void ForUnits(const std::vector<LinearJob>& jobs, int64_t unit, int64_t begin, int64_t end,
              const Fn& fn) {
  for (const LinearJob& j : jobs) {
    const int64_t units = (j.out + unit - 1) / unit;
    const int64_t b = std::max(begin, j.first_unit), e = std::min(end, j.first_unit + units);
    if (b < e) fn(j, (b - j.first_unit) * unit, std::min(j.out, (e - j.first_unit) * unit));
  }
}

// y_i = x w_i^T (+ b_i) for each (w_i, b_i) of `weights`, in one parallel region.
std::vector<at::Tensor> Linears(const at::Tensor& x,
                                const std::vector<std::pair<at::Tensor, at::Tensor>>& weights) {
  const int64_t rows = x.size(0), in = x.size(1);
  const float* xp = x.data_ptr<float>();
  std::vector<at::Tensor> ys;
  std::vector<LinearJob> jobs;
  const bool small = rows <= kSmallMatmulRows;
  // Small: units of 16 outputs (weight rows); GEMM: tiles of 6.
  const int64_t unit = small ? 16 : 6;
  int64_t units = 0, macs = 0;
  for (const auto& [weight, bias] : weights) {
    const int64_t out = weight.size(0);
    ys.push_back(at::empty({rows, out}, x.options()));
    jobs.push_back({weight.data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr,
                    ys.back().data_ptr<float>(), out, units});
    units += (out + unit - 1) / unit;
    macs += rows * in * out;
  }
  const int64_t grain = macs < kParallelMacs ? units : 1;
  if (small) {
    ParallelFor(0, units, grain, [&](int64_t begin, int64_t end) {
      ForUnits(jobs, unit, begin, end, [&](const LinearJob& j, int64_t b, int64_t e) {
        SmallMatmul(xp, rows, j.w, j.bias, j.y, in, j.out, b, e);
      });
    });
    return ys;
  }
  at::Tensor packed = at::empty({PackedRowsSize(rows, in)}, x.options());
  float* pp = packed.data_ptr<float>();
  const int64_t panels = (rows + kGemmPanel - 1) / kGemmPanel;
  ParallelFor(0, panels, panels * in * kGemmPanel < kParallelMacs ? panels : 1,
              [&](int64_t begin, int64_t end) {
                const int64_t m0 = begin * kGemmPanel;
                const int64_t m1 = std::min(rows, end * kGemmPanel);
                PackRows(xp + m0 * in, m1 - m0, in, pp + m0 * in);
              });
  ParallelFor(0, units, grain, [&](int64_t begin, int64_t end) {
    ForUnits(jobs, unit, begin, end, [&](const LinearJob& j, int64_t b, int64_t e) {
      GemmPacked(pp, rows, j.w, j.bias, j.y, in, j.out, b, e);
    });
  });
  return ys;
}

}  // namespace

std::vector<at::Tensor> CpuLinears(const at::Tensor& x,
                                   const std::vector<const LinearImpl*>& linears) {
  std::vector<std::pair<at::Tensor, at::Tensor>> weights;
  for (const LinearImpl* l : linears) weights.emplace_back(l->weight, l->bias);
  return Linears(x, weights);
}

at::Tensor CpuLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return Linears(x, {{weight, bias}})[0];
}

at::Tensor RmsNormImpl::ForwardCpu(const at::Tensor& x) const {
  const int64_t n = weight.size(0), rows = x.numel() / n;
  at::Tensor out = at::empty_like(x);
  const float* xp = x.data_ptr<float>();
  const float* wp = weight.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const float e = static_cast<float>(eps);
  ParallelFor(0, rows, std::max<int64_t>(1, 32768 / n),
              [&](int64_t b, int64_t end) { RmsNorm(xp, wp, op, n, e, b, end); });
  return out;
}

at::Tensor DecoderLayerImpl::StepTensors(const at::Tensor& x, int64_t layer,
                                         const StepContext& ctx) const {
  const ModelConfig& c = config;
  const int64_t M = x.size(0);
  at::Tensor h = input_layernorm->forward(x);
  at::Tensor q = q_proj->forward(h).view({M, c.num_heads, c.head_dim});
  at::Tensor k = k_proj->forward(h).view({M, c.num_kv_heads, c.head_dim});
  at::Tensor v = v_proj->forward(h).view({M, c.num_kv_heads, c.head_dim});
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  at::Tensor cos = ctx.cos.unsqueeze(1), sin = ctx.sin.unsqueeze(1);
  q = RotateHalf(q, cos, sin);
  k = RotateHalf(k, cos, sin);
  at::Tensor keys = ctx.cache->keys(layer);
  at::Tensor values = ctx.cache->values(layer);
  keys.index_copy_(0, ctx.dst_index, k);
  values.index_copy_(0, ctx.dst_index, v);
  // Pad the new rows into [batch, max_new] and gather each sequence's keys [batch, max_len].
  at::Tensor qp = at::zeros({ctx.batch * ctx.max_new, c.num_heads, c.head_dim}, q.options());
  qp.index_copy_(0, ctx.pad_index, q);
  qp = qp.view({ctx.batch, ctx.max_new, c.num_heads, c.head_dim});
  at::Tensor kg = keys.index_select(0, ctx.gather_index)
                      .view({ctx.batch, ctx.max_len, c.num_kv_heads, c.head_dim});
  at::Tensor vg = values.index_select(0, ctx.gather_index)
                      .view({ctx.batch, ctx.max_len, c.num_kv_heads, c.head_dim});
  at::Tensor a = Attend(qp, kg, vg, ctx.allowed, AttentionScale());
  a = a.view({ctx.batch * ctx.max_new, c.num_heads * c.head_dim}).index_select(0, ctx.pad_index);
  at::Tensor out = x + o_proj->forward(a);
  return out + Mlp(post_attention_layernorm->forward(out));
}

at::Tensor DecoderLayerImpl::StepCpu(const at::Tensor& x_in, int64_t layer,
                                     const StepContext& ctx) const {
  const ModelConfig& c = config;
  const int64_t M = x_in.size(0), hd = c.head_dim, kvh = c.num_kv_heads;
  at::Tensor x = x_in;
  at::Tensor h = input_layernorm->ForwardCpu(x);
  std::vector<at::Tensor> qkv = CpuLinears(h, {q_proj.get(), k_proj.get(), v_proj.get()});
  at::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
  if (q_norm) {
    q = q_norm->ForwardCpu(q);
    k = k_norm->ForwardCpu(k);
  }
  ApplyRope(q.data_ptr<float>(), ctx.row_pos.data(), ctx.cos_table, ctx.sin_table, c.num_heads, hd,
            0, M);
  ApplyRope(k.data_ptr<float>(), ctx.row_pos.data(), ctx.cos_table, ctx.sin_table, kvh, hd, 0, M);
  at::Tensor keys = ctx.cache->keys(layer);
  at::Tensor values = ctx.cache->values(layer);
  float* kp = keys.data_ptr<float>();
  float* vp = values.data_ptr<float>();
  const float* kn = k.data_ptr<float>();
  const float* vn = v.data_ptr<float>();
  const size_t row_bytes = static_cast<size_t>(kvh * hd) * sizeof(float);
  for (int64_t r = 0; r < M; ++r) {
    std::memcpy(kp + ctx.row_dst[r] * kvh * hd, kn + r * kvh * hd, row_bytes);
    std::memcpy(vp + ctx.row_dst[r] * kvh * hd, vn + r * kvh * hd, row_bytes);
  }
  at::Tensor a = at::empty({M, c.num_heads * hd}, q.options());
  CachedAttentionArgs args;
  args.q = q.data_ptr<float>();
  args.k = kp;
  args.v = vp;
  args.out = a.data_ptr<float>();
  args.row_blocks = ctx.row_blocks.data();
  args.row_pos = ctx.row_pos.data();
  args.num_heads = c.num_heads;
  args.num_kv_heads = kvh;
  args.head_dim = hd;
  args.block_size = ctx.cache->block_size();
  args.scale = static_cast<float>(AttentionScale());
  const int64_t items = M * kvh;
  // Spread over threads only when there is enough work to pay for waking them.
  const int64_t grain = ctx.attention_work < kParallelMacs ? items : 1;
  ParallelFor(0, items, grain, [&](int64_t b, int64_t e) { CachedAttention(args, b, e); });
  x = x + o_proj->ForwardCpu(a);
  h = post_attention_layernorm->ForwardCpu(x);
  std::vector<at::Tensor> gate_up = CpuLinears(h, {gate_proj.get(), up_proj.get()});
  const int64_t F = c.intermediate_size;
  at::Tensor act = at::empty_like(gate_up[0]);
  const float* gp = gate_up[0].data_ptr<float>();
  const float* upp = gate_up[1].data_ptr<float>();
  float* ap = act.data_ptr<float>();
  ParallelFor(0, M, std::max<int64_t>(1, 65536 / F),
              [&](int64_t b, int64_t e) { SiluMul(gp, upp, ap, F, b, e); });
  x.add_(down_proj->ForwardCpu(act));
  return x;
}

}  // namespace internal

absl::StatusOr<at::Tensor> DecoderImpl::Step(KvCache& cache, const std::vector<int64_t>& slots,
                                             const std::vector<std::vector<int32_t>>& tokens) {
  if (slots.size() != tokens.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Step: ", slots.size(), " slots but ", tokens.size(), " token lists"));
  }
  if (slots.empty()) return absl::InvalidArgumentError("Step: no slots");
  if (cache.dtype() != dtype() || cache.device() != device()) {
    return absl::InvalidArgumentError("Step: the KV cache's dtype/device differ from the model's");
  }
  const int64_t B = static_cast<int64_t>(slots.size());
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> ids, last_rows(B);
  int64_t max_new = 0, max_len = 0, blocks = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t slot = slots[b];
    PONDER_RETURN_IF_ERROR(cache.CheckSlot(slot, "Step"));
    if (!seen.insert(slot).second) {
      return absl::InvalidArgumentError(absl::StrCat("Step: slot ", slot, " is given twice"));
    }
    const auto& list = tokens[b];
    if (list.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("Step: no tokens for slot ", slot));
    }
    const int64_t start = cache.length(slot), n = static_cast<int64_t>(list.size());
    if (start + n > cache.max_seq_len()) {
      return absl::OutOfRangeError(absl::StrCat("Step: slot ", slot, " holds ", start, " tokens; ",
                                                n, " more exceed max_seq_len ",
                                                cache.max_seq_len()));
    }
    for (int32_t id : list) {
      if (id < 0 || id >= config_.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("Step: token id ", id, " for slot ", slot,
                                                       " is outside the vocabulary [0, ",
                                                       config_.vocab_size, ")"));
      }
      ids.push_back(id);
    }
    last_rows[b] = static_cast<int64_t>(ids.size()) - 1;
    max_new = std::max(max_new, n);
    max_len = std::max(max_len, start + n);
    blocks += cache.BlocksToAppend(slot, n);
  }
  if (blocks > cache.num_free_blocks()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Step: the KV cache has ", cache.num_free_blocks(), " free blocks of ", cache.num_blocks(),
        "; these tokens need ", blocks, " (release or preempt a sequence first)"));
  }
  const int64_t M = static_cast<int64_t>(ids.size());
  return internal::Guarded("Decoder::Step", [&]() -> absl::StatusOr<at::Tensor> {
    torch::NoGradGuard no_grad;
    internal::StepContext ctx;
    ctx.cache = &cache;
    ctx.rows = M;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t slot = slots[b], start = cache.length(slot);
      const int64_t n = static_cast<int64_t>(tokens[b].size());
      PONDER_RETURN_IF_ERROR(cache.PrepareAppend(slot, n));
      for (int64_t i = 0; i < n; ++i) {
        ctx.row_pos.push_back(start + i);
        ctx.row_dst.push_back(cache.Row(slot, start + i));
        ctx.attention_work += (start + i + 1) * config_.head_dim * config_.num_heads;
      }
    }
    // Block tables are final once every slot has its blocks.
    for (int64_t b = 0; b < B; ++b) {
      const int32_t* table = cache.block_table(slots[b]).data();
      ctx.row_blocks.insert(ctx.row_blocks.end(), tokens[b].size(), table);
    }
    const c10::Device dev = device();
    const auto long_opts = at::TensorOptions().dtype(at::kLong);
    auto to_dev = [&](const std::vector<int64_t>& v) {
      return at::from_blob(const_cast<int64_t*>(v.data()), {static_cast<int64_t>(v.size())},
                           long_opts)
          .to(dev, /*non_blocking=*/false, /*copy=*/true);
    };
    RopeTables rope = Rope(max_len, dev);
    ctx.fast = use_cpu_kernels_ && dev.is_cpu() && dtype() == at::kFloat;
    if (ctx.fast) {
      ctx.cos_table = rope.cos.data_ptr<float>();
      ctx.sin_table = rope.sin.data_ptr<float>();
    } else {
      ctx.dst_index = to_dev(ctx.row_dst);
      at::Tensor pos = to_dev(ctx.row_pos);
      ctx.cos = rope.cos.index_select(0, pos).to(dtype());
      ctx.sin = rope.sin.index_select(0, pos).to(dtype());
      ctx.batch = B;
      ctx.max_new = max_new;
      ctx.max_len = max_len;
      std::vector<int64_t> gather(B * max_len), pad(M);
      std::vector<uint8_t> allowed(B * max_new * max_len, 0);
      int64_t r = 0;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t slot = slots[b], start = cache.length(slot);
        const int64_t n = static_cast<int64_t>(tokens[b].size());
        // Keys past the sequence's end are masked; any row of the sequence stands in for them.
        for (int64_t j = 0; j < max_len; ++j) {
          gather[b * max_len + j] = cache.Row(slot, std::min(j, start + n - 1));
        }
        for (int64_t i = 0; i < max_new; ++i) {
          uint8_t* row = allowed.data() + (b * max_new + i) * max_len;
          if (i < n) {
            std::fill(row, row + start + i + 1, 1);
            pad[r++] = b * max_new + i;
          } else {
            row[0] = 1;  // padding queries look at one key so softmax stays finite
          }
        }
      }
      ctx.gather_index = to_dev(gather);
      ctx.pad_index = to_dev(pad);
      ctx.allowed = at::from_blob(allowed.data(), {B, max_new, max_len}, at::kByte)
                        .to(dev, at::kBool, false, /*copy=*/true);
    }
    at::Tensor x = Embed(to_dev(ids));
    for (size_t l = 0; l < layers_.size(); ++l) {
      x = layers_[l]->Step(x, static_cast<int64_t>(l), ctx);
    }
    for (int64_t b = 0; b < B; ++b) {
      cache.SetLength(slots[b], cache.length(slots[b]) + static_cast<int64_t>(tokens[b].size()));
    }
    at::Tensor last = M == B ? x : x.index_select(0, to_dev(last_rows));
    if (ctx.fast) {
      return internal::CpuLinear(norm_->ForwardCpu(last.contiguous()), LmHeadWeight(),
                                 at::Tensor());
    }
    return Logits(norm_->forward(last));
  });
}

}  // namespace ponder::model
