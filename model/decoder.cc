#include "model/decoder.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "model/internal/chunked_log_probs.h"
#include "model/internal/cpu_kernels.h"
#include "model/kv_cache.h"

namespace ponder::model {
namespace internal {

// Up to this many rows, CpuLinear streams the weights itself: on the dev machine's OpenBLAS
// that is 2-4x faster than GEMM for one row and ~1.5x for four; from eight rows on GEMM wins.
constexpr int64_t kSmallMatmulRows = 4;

// y = x w^T (+ b) for float32 CPU tensors, x [rows, in] contiguous.
at::Tensor CpuLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t rows = x.size(0), in = weight.size(1), out = weight.size(0);
  if (rows > kSmallMatmulRows) return at::linear(x, weight, bias);
  at::Tensor y = at::empty({rows, out}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* wp = weight.data_ptr<float>();
  const float* bp = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  // Threads get blocks of weight rows of at least ~256 KB.
  const int64_t grain = std::max<int64_t>(16, (int64_t{1} << 16) / std::max<int64_t>(1, in));
  at::parallel_for(0, out, grain,
                   [&](int64_t b, int64_t e) { SmallMatmul(xp, rows, wp, bp, yp, in, out, b, e); });
  return y;
}

// y = x W^T (+ b). Parameters "weight" [out, in] and, optionally, "bias" [out].
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias) {
    weight = register_parameter("weight", at::empty({out, in}));
    if (bias) this->bias = register_parameter("bias", at::zeros({out}));
  }
  at::Tensor forward(const at::Tensor& x) const { return at::linear(x, weight, bias); }
  // Float32 CPU rows [rows, in] (see CpuLinear).
  at::Tensor ForwardCpu(const at::Tensor& x) const;

  at::Tensor weight, bias;
};

at::Tensor LinearImpl::ForwardCpu(const at::Tensor& x) const { return CpuLinear(x, weight, bias); }

// transformers' RMSNorm: computed in float32, scaled by the weight in the input's dtype.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t n, double eps) : eps(eps) {
    weight = register_parameter("weight", at::ones({n}));
  }
  at::Tensor forward(const at::Tensor& x) const {
    at::Tensor h = x.to(at::kFloat);
    h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * h.to(x.scalar_type());
  }
  // The fused kernel over the rows of a contiguous float32 [rows, n] tensor.
  at::Tensor ForwardCpu(const at::Tensor& x) const {
    const int64_t n = weight.size(0), rows = x.numel() / n;
    at::Tensor out = at::empty_like(x);
    const float* xp = x.data_ptr<float>();
    const float* wp = weight.data_ptr<float>();
    float* op = out.data_ptr<float>();
    const float e = static_cast<float>(eps);
    at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / n),
                     [&](int64_t b, int64_t end) { RmsNorm(xp, wp, op, n, e, b, end); });
    return out;
  }

  at::Tensor weight;
  double eps;
};

// What one Step call needs in every layer.
struct StepContext {
  KvCache* cache = nullptr;
  bool fast = false;
  int64_t rows = 0;
  std::vector<int64_t> row_slot, row_pos;  // host, per new token
  at::Tensor flat_index;                   // [rows] slot * max_len + pos, for the cache write
  // Fast path: RoPE tables (float32 CPU [positions, head_dim / 2]).
  const float* cos_table = nullptr;
  const float* sin_table = nullptr;
  int64_t attention_work = 0;  // total q.k products, to decide on threads
  // Tensor-op path.
  at::Tensor cos, sin;  // [rows, head_dim / 2] in the model's dtype
  int64_t batch = 0, max_new = 0, max_len = 0;
  at::Tensor gather_index;  // [batch * max_len] flat cache rows of each slot's keys
  at::Tensor pad_index;     // [rows] position of each row in the [batch * max_new] padding
  at::Tensor allowed;       // [batch, max_new, max_len] which keys each padded query sees
};

namespace {

// x * cos + rotate_half(x) * sin over the last dimension; cos/sin broadcast against x's halves.
at::Tensor RotateHalf(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

// Which keys each query of a row sees: itself and earlier real tokens (of the same segment,
// when `segments` is given); a padding query sees only itself. valid [B, T] bool -> [B, T, T].
at::Tensor CausalKeys(const at::Tensor& valid, const at::Tensor& segments = {}) {
  const int64_t T = valid.size(1);
  at::Tensor idx = at::arange(T, valid.options().dtype(at::kLong));
  at::Tensor allowed = idx.view({1, T, 1}).ge(idx.view({1, 1, T})) & valid.unsqueeze(1);
  if (segments.defined()) allowed = allowed & segments.unsqueeze(2).eq(segments.unsqueeze(1));
  return allowed | at::eye(T, valid.options()).unsqueeze(0);
}

// Attention with grouped heads. q [B, Tq, heads, hd], k/v [B, Lk, kv_heads, hd], allowed
// [B, Tq, Lk] bool (every query must allow at least one key). Returns [B, Tq, heads * hd].
at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& allowed, double scale) {
  const int64_t B = q.size(0), Tq = q.size(1), H = q.size(2), hd = q.size(3);
  const int64_t kvh = k.size(2), Lk = k.size(1), rep = H / kvh;
  at::Tensor qg =
      q.reshape({B, Tq, kvh, rep, hd}).permute({0, 2, 3, 1, 4}).reshape({B, kvh, rep * Tq, hd});
  at::Tensor kg = k.permute({0, 2, 1, 3});
  at::Tensor vg = v.permute({0, 2, 1, 3});
  at::Tensor scores = at::matmul(qg, kg.transpose(-1, -2)) * scale;
  at::Tensor mask =
      allowed.unsqueeze(1).unsqueeze(1).expand({B, 1, rep, Tq, Lk}).reshape({B, 1, rep * Tq, Lk});
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  at::Tensor out = at::matmul(probs, vg);  // [B, kvh, rep * Tq, hd]
  return out.reshape({B, kvh, rep, Tq, hd}).permute({0, 3, 1, 2, 4}).reshape({B, Tq, H * hd});
}

}  // namespace

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& c) : config(c) {
    const int64_t q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
    auto attn = register_module("self_attn", std::make_shared<torch::nn::Module>("Attention"));
    q_proj = attn->register_module("q_proj",
                                   std::make_shared<LinearImpl>(c.hidden_size, q_dim, c.qkv_bias));
    k_proj = attn->register_module("k_proj",
                                   std::make_shared<LinearImpl>(c.hidden_size, kv_dim, c.qkv_bias));
    v_proj = attn->register_module("v_proj",
                                   std::make_shared<LinearImpl>(c.hidden_size, kv_dim, c.qkv_bias));
    o_proj = attn->register_module("o_proj",
                                   std::make_shared<LinearImpl>(q_dim, c.hidden_size, c.o_bias));
    if (c.qk_norm) {
      q_norm = attn->register_module("q_norm",
                                     std::make_shared<RmsNormImpl>(c.head_dim, c.rms_norm_eps));
      k_norm = attn->register_module("k_norm",
                                     std::make_shared<RmsNormImpl>(c.head_dim, c.rms_norm_eps));
    }
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>("Mlp"));
    gate_proj = mlp->register_module(
        "gate_proj", std::make_shared<LinearImpl>(c.hidden_size, c.intermediate_size, false));
    up_proj = mlp->register_module(
        "up_proj", std::make_shared<LinearImpl>(c.hidden_size, c.intermediate_size, false));
    down_proj = mlp->register_module(
        "down_proj", std::make_shared<LinearImpl>(c.intermediate_size, c.hidden_size, false));
    input_layernorm = register_module("input_layernorm",
                                      std::make_shared<RmsNormImpl>(c.hidden_size, c.rms_norm_eps));
    post_attention_layernorm = register_module(
        "post_attention_layernorm", std::make_shared<RmsNormImpl>(c.hidden_size, c.rms_norm_eps));
  }

  at::Tensor Mlp(const at::Tensor& h) const {
    return down_proj->forward(at::silu(gate_proj->forward(h)) * up_proj->forward(h));
  }

  double AttentionScale() const { return 1.0 / std::sqrt(static_cast<double>(config.head_dim)); }

  // The training-path layer over tokens x [..., H], cos/sin broadcasting against
  // [..., heads, hd/2]; `attend` takes the normed, rotated q [..., heads, hd] and k, v
  // [..., kv_heads, hd] to the attention output [..., heads * hd].
  template <typename AttendFn>
  at::Tensor Apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                   const AttendFn& attend) const {
    auto split_heads = [&](const at::Tensor& t, int64_t heads) {
      std::vector<int64_t> shape = t.sizes().vec();
      shape.back() = heads;
      shape.push_back(config.head_dim);
      return t.view(shape);
    };
    at::Tensor h = input_layernorm->forward(x);
    at::Tensor q = split_heads(q_proj->forward(h), config.num_heads);
    at::Tensor k = split_heads(k_proj->forward(h), config.num_kv_heads);
    at::Tensor v = split_heads(v_proj->forward(h), config.num_kv_heads);
    if (q_norm) {
      q = q_norm->forward(q);
      k = k_norm->forward(k);
    }
    at::Tensor out =
        x + o_proj->forward(attend(RotateHalf(q, cos, sin), RotateHalf(k, cos, sin), v));
    return out + Mlp(post_attention_layernorm->forward(out));
  }

  // Training path. x [B, T, H]; cos/sin [B, T, 1, hd/2] in x's dtype; allowed [B, T, T].
  at::Tensor Forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const at::Tensor& allowed) const {
    return Apply(x, cos, sin, [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
      return Attend(q, k, v, allowed, AttentionScale());
    });
  }

  // Training path with shared prompts (SharedPromptBatch). x [G * P + N * R, H]: prompt
  // positions, then response positions; cos/sin [G * P + N * R, 1, hd/2]; allowed_p
  // [G, P, P]; allowed_r [N, R, P + R] over the response's prompt then itself; group [N].
  at::Tensor ForwardShared(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                           const at::Tensor& allowed_p, const at::Tensor& allowed_r,
                           const at::Tensor& group) const {
    const int64_t G = allowed_p.size(0), P = allowed_p.size(1);
    const int64_t N = allowed_r.size(0), R = allowed_r.size(1), hd = config.head_dim;
    return Apply(x, cos, sin, [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
      auto prompts = [&](const at::Tensor& t) {
        return t.narrow(0, 0, G * P).view({G, P, t.size(1), hd});
      };
      auto responses = [&](const at::Tensor& t) {
        return t.narrow(0, G * P, N * R).view({N, R, t.size(1), hd});
      };
      at::Tensor kp = prompts(k), vp = prompts(v);
      at::Tensor a_p = Attend(prompts(q), kp, vp, allowed_p, AttentionScale());
      at::Tensor k_r = at::cat({kp.index_select(0, group), responses(k)}, 1);
      at::Tensor v_r = at::cat({vp.index_select(0, group), responses(v)}, 1);
      at::Tensor a_r = Attend(responses(q), k_r, v_r, allowed_r, AttentionScale());
      return at::cat({a_p.reshape({G * P, -1}), a_r.reshape({N * R, -1})});
    });
  }

  // Generation path over the flat rows of new tokens, x [rows, H]; writes this layer's keys
  // and values into the cache.
  at::Tensor Step(const at::Tensor& x, int64_t layer, const StepContext& ctx) const {
    return ctx.fast ? StepCpu(x, layer, ctx) : StepTensors(x, layer, ctx);
  }

  at::Tensor StepTensors(const at::Tensor& x, int64_t layer, const StepContext& ctx) const {
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
    const int64_t S = ctx.cache->num_slots(), L = ctx.cache->max_seq_len();
    at::Tensor keys = ctx.cache->keys(layer).view({S * L, c.num_kv_heads, c.head_dim});
    at::Tensor values = ctx.cache->values(layer).view({S * L, c.num_kv_heads, c.head_dim});
    keys.index_copy_(0, ctx.flat_index, k);
    values.index_copy_(0, ctx.flat_index, v);
    // Pad the new rows into [batch, max_new] and gather each slot's keys [batch, max_len].
    at::Tensor qp = at::zeros({ctx.batch * ctx.max_new, c.num_heads, c.head_dim}, q.options());
    qp.index_copy_(0, ctx.pad_index, q);
    qp = qp.view({ctx.batch, ctx.max_new, c.num_heads, c.head_dim});
    at::Tensor kg = keys.index_select(0, ctx.gather_index)
                        .view({ctx.batch, ctx.max_len, c.num_kv_heads, c.head_dim});
    at::Tensor vg = values.index_select(0, ctx.gather_index)
                        .view({ctx.batch, ctx.max_len, c.num_kv_heads, c.head_dim});
    at::Tensor a =
        Attend(qp, kg, vg, ctx.allowed, 1.0 / std::sqrt(static_cast<double>(c.head_dim)));
    a = a.view({ctx.batch * ctx.max_new, c.num_heads * c.head_dim}).index_select(0, ctx.pad_index);
    at::Tensor out = x + o_proj->forward(a);
    return out + Mlp(post_attention_layernorm->forward(out));
  }

  at::Tensor StepCpu(const at::Tensor& x_in, int64_t layer, const StepContext& ctx) const {
    const ModelConfig& c = config;
    const int64_t M = x_in.size(0), hd = c.head_dim;
    at::Tensor x = x_in;
    at::Tensor h = input_layernorm->ForwardCpu(x);
    at::Tensor q = q_proj->ForwardCpu(h);
    at::Tensor k = k_proj->ForwardCpu(h);
    at::Tensor v = v_proj->ForwardCpu(h);
    if (q_norm) {
      q = q_norm->ForwardCpu(q);
      k = k_norm->ForwardCpu(k);
    }
    ApplyRope(q.data_ptr<float>(), ctx.row_pos.data(), ctx.cos_table, ctx.sin_table, c.num_heads,
              hd, 0, M);
    ApplyRope(k.data_ptr<float>(), ctx.row_pos.data(), ctx.cos_table, ctx.sin_table, c.num_kv_heads,
              hd, 0, M);
    const int64_t S = ctx.cache->num_slots(), L = ctx.cache->max_seq_len();
    at::Tensor keys = ctx.cache->keys(layer);
    at::Tensor values = ctx.cache->values(layer);
    keys.view({S * L, c.num_kv_heads, hd})
        .index_copy_(0, ctx.flat_index, k.view({M, c.num_kv_heads, hd}));
    values.view({S * L, c.num_kv_heads, hd})
        .index_copy_(0, ctx.flat_index, v.view({M, c.num_kv_heads, hd}));
    at::Tensor a = at::empty({M, c.num_heads * hd}, q.options());
    CachedAttentionArgs args;
    args.q = q.data_ptr<float>();
    args.k = keys.data_ptr<float>();
    args.v = values.data_ptr<float>();
    args.out = a.data_ptr<float>();
    args.row_slot = ctx.row_slot.data();
    args.row_pos = ctx.row_pos.data();
    args.num_heads = c.num_heads;
    args.num_kv_heads = c.num_kv_heads;
    args.head_dim = hd;
    args.max_len = L;
    args.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
    const int64_t items = M * c.num_kv_heads;
    // Spread over threads only when there is enough work to pay for waking them.
    const int64_t grain = ctx.attention_work < (1 << 16) ? items : 1;
    at::parallel_for(0, items, grain, [&](int64_t b, int64_t e) { CachedAttention(args, b, e); });
    x = x + o_proj->ForwardCpu(a);
    h = post_attention_layernorm->ForwardCpu(x);
    at::Tensor gate = gate_proj->ForwardCpu(h);
    at::Tensor up = up_proj->ForwardCpu(h);
    const int64_t F = c.intermediate_size;
    at::Tensor act = at::empty_like(gate);
    const float* gp = gate.data_ptr<float>();
    const float* upp = up.data_ptr<float>();
    float* ap = act.data_ptr<float>();
    at::parallel_for(0, M, std::max<int64_t>(1, 65536 / F),
                     [&](int64_t b, int64_t e) { SiluMul(gp, upp, ap, F, b, e); });
    x.add_(down_proj->ForwardCpu(act));
    return x;
  }

  ModelConfig config;
  std::shared_ptr<LinearImpl> q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  std::shared_ptr<RmsNormImpl> q_norm, k_norm, input_layernorm, post_attention_layernorm;
};

}  // namespace internal

namespace {

using internal::DecoderLayerImpl;
using internal::LinearImpl;
using internal::RmsNormImpl;

bool IsIntegral(const at::Tensor& t) {
  return at::isIntegralType(t.scalar_type(), /*includeBool=*/false);
}

absl::Status CheckLayoutTensor(const at::Tensor& t, const char* name, int64_t B, int64_t T) {
  if (!t.defined()) return absl::OkStatus();
  if (t.dim() != 2 || t.size(0) != B || t.size(1) != T) {
    return absl::InvalidArgumentError(absl::StrCat("BatchLayout.", name, " must be [", B, ", ", T,
                                                   "] like input_ids (got [",
                                                   absl::StrJoin(t.sizes(), ", "), "])"));
  }
  return absl::OkStatus();
}

// c10::Error -> Status, at the edge of the module's API.
template <typename F>
auto Guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what_without_backtrace()));
  }
}

}  // namespace

DecoderImpl::DecoderImpl(const ModelConfig& config, const DecoderOptions& options)
    : config_(config) {
  const ModelConfig& c = config_;
  body_ = register_module("model", std::make_shared<torch::nn::Module>("Model"));
  auto embed =
      body_->register_module("embed_tokens", std::make_shared<torch::nn::Module>("Embedding"));
  embed_weight_ = embed->register_parameter("weight", at::empty({c.vocab_size, c.hidden_size}));
  auto layers = body_->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    auto layer = std::make_shared<DecoderLayerImpl>(c);
    layers->push_back(layer);
    layers_.push_back(layer);
  }
  norm_ =
      body_->register_module("norm", std::make_shared<RmsNormImpl>(c.hidden_size, c.rms_norm_eps));
  if (!c.tie_word_embeddings) {
    lm_head_ = register_module("lm_head",
                               std::make_shared<LinearImpl>(c.hidden_size, c.vocab_size, false));
  }
  if (options.value_head) {
    value_head_ =
        register_module("value_head", std::make_shared<LinearImpl>(c.hidden_size, 1, true));
  }
  if (options.initialize) {
    torch::NoGradGuard no_grad;
    for (auto& p : named_parameters()) {
      const std::string& name = p.key();
      at::Tensor& t = p.value();
      if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
        t.zero_();
      } else if (name.find("norm") != std::string::npos) {
        t.fill_(1.0);
      } else {
        t.normal_(0.0, 0.02);
      }
    }
  }
}

c10::ScalarType DecoderImpl::dtype() const { return embed_weight_.scalar_type(); }
c10::Device DecoderImpl::device() const { return embed_weight_.device(); }

at::Tensor DecoderImpl::LmHeadWeight() const { return lm_head_ ? lm_head_->weight : embed_weight_; }

DecoderImpl::RopeTables DecoderImpl::Rope(int64_t n, c10::Device device) {
  std::lock_guard<std::mutex> lock(rope_mu_);
  int64_t have = rope_cos_.defined() ? rope_cos_.size(0) : 0;
  if (have < n) {
    // As transformers computes them: inv_freq = 1 / theta^(2i / d), angles = pos * inv_freq,
    // all in float32.
    const int64_t want = std::max(n, std::max<int64_t>(config_.max_position_embeddings, 2 * have));
    at::Tensor exponent = at::arange(0, config_.head_dim, 2, at::kLong).to(at::kFloat) /
                          static_cast<double>(config_.head_dim);
    at::Tensor inv_freq = 1.0 / at::pow(config_.rope_theta, exponent);
    at::Tensor t = at::arange(want, at::kLong).to(at::kFloat);
    at::Tensor freqs = at::outer(t, inv_freq);
    rope_cos_ = freqs.cos().contiguous();
    rope_sin_ = freqs.sin().contiguous();
    rope_on_device_.clear();
  }
  if (device.is_cpu()) return {rope_cos_, rope_sin_};
  for (const RopeTables& t : rope_on_device_) {
    if (t.cos.device() == device) return t;
  }
  rope_on_device_.push_back({rope_cos_.to(device), rope_sin_.to(device)});
  return rope_on_device_.back();
}

std::pair<at::Tensor, at::Tensor> DecoderImpl::RopeAt(const at::Tensor& positions) {
  const int64_t max_pos = positions.numel() > 0 ? positions.max().item<int64_t>() : 0;
  RopeTables rope = Rope(max_pos + 1, positions.device());
  std::vector<int64_t> shape = positions.sizes().vec();
  shape.insert(shape.end(), {1, config_.head_dim / 2});
  at::Tensor flat = positions.reshape({-1});
  return {rope.cos.index_select(0, flat).view(shape).to(dtype()),
          rope.sin.index_select(0, flat).view(shape).to(dtype())};
}

absl::Status DecoderImpl::CheckIds(const at::Tensor& ids, const char* what) const {
  if (!ids.defined() || !IsIntegral(ids)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be an integer tensor"));
  }
  if (ids.numel() == 0) return absl::OkStatus();
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  if (lo < 0 || hi >= config_.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds id ", lo < 0 ? lo : hi,
                                                   ", outside the vocabulary [0, ",
                                                   config_.vocab_size, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> DecoderImpl::Hidden(const at::Tensor& input_ids,
                                               const BatchLayout& layout) {
  if (!input_ids.defined() || input_ids.dim() != 2) {
    return absl::InvalidArgumentError("input_ids must be a [batch, tokens] tensor");
  }
  PONDER_RETURN_IF_ERROR(CheckIds(input_ids, "input_ids"));
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  PONDER_RETURN_IF_ERROR(CheckLayoutTensor(layout.attention_mask, "attention_mask", B, T));
  PONDER_RETURN_IF_ERROR(CheckLayoutTensor(layout.segment_ids, "segment_ids", B, T));
  PONDER_RETURN_IF_ERROR(CheckLayoutTensor(layout.position_ids, "position_ids", B, T));
  return Guarded("Decoder::Hidden", [&]() -> absl::StatusOr<at::Tensor> {
    const c10::Device dev = device();
    at::Tensor ids = input_ids.to(dev, at::kLong);
    at::Tensor valid = layout.attention_mask.defined()
                           ? layout.attention_mask.to(dev).ne(0)
                           : at::ones({B, T}, ids.options().dtype(at::kBool));
    at::Tensor seg =
        layout.segment_ids.defined() ? layout.segment_ids.to(dev, at::kLong) : at::Tensor();
    at::Tensor allowed = internal::CausalKeys(valid, seg);
    at::Tensor pos;
    if (layout.position_ids.defined()) {
      pos = layout.position_ids.to(dev, at::kLong);
      if (pos.numel() > 0 && pos.min().item<int64_t>() < 0) {
        return absl::InvalidArgumentError("BatchLayout.position_ids must be >= 0");
      }
    } else {
      at::Tensor v = valid.to(at::kLong);
      at::Tensor before = v.cumsum(1) - v;  // real tokens before each position
      if (seg.defined()) {
        at::Tensor starts = at::ones({B, T}, ids.options().dtype(at::kBool));
        if (T > 1) {
          starts.narrow(1, 1, T - 1).copy_(seg.narrow(1, 1, T - 1).ne(seg.narrow(1, 0, T - 1)));
        }
        at::Tensor base = std::get<0>(at::where(starts, before, at::zeros_like(before)).cummax(1));
        pos = before - base;
      } else {
        pos = before;
      }
    }
    auto [cos, sin] = RopeAt(pos);
    at::Tensor x = at::embedding(embed_weight_, ids);
    for (const auto& layer : layers_) x = layer->Forward(x, cos, sin, allowed);
    return norm_->forward(x);
  });
}

absl::StatusOr<at::Tensor> DecoderImpl::HiddenSharedPrompts(const SharedPromptBatch& batch) {
  for (const auto* t : {&batch.prompt_ids, &batch.response_ids}) {
    if (!t->defined() || t->dim() != 2) {
      return absl::InvalidArgumentError(
          "SharedPromptBatch prompt_ids and response_ids must be [rows, tokens] tensors");
    }
  }
  PONDER_RETURN_IF_ERROR(CheckIds(batch.prompt_ids, "prompt_ids"));
  PONDER_RETURN_IF_ERROR(CheckIds(batch.response_ids, "response_ids"));
  const int64_t G = batch.prompt_ids.size(0), P = batch.prompt_ids.size(1);
  const int64_t N = batch.response_ids.size(0), R = batch.response_ids.size(1);
  PONDER_RETURN_IF_ERROR(CheckLayoutTensor(batch.prompt_mask, "prompt_mask", G, P));
  PONDER_RETURN_IF_ERROR(CheckLayoutTensor(batch.response_mask, "response_mask", N, R));
  if (!batch.response_prompt.defined() || batch.response_prompt.dim() != 1 ||
      batch.response_prompt.size(0) != N) {
    return absl::InvalidArgumentError(
        absl::StrCat("SharedPromptBatch.response_prompt must be [", N, "] (one per response)"));
  }
  return Guarded("Decoder::HiddenSharedPrompts", [&]() -> absl::StatusOr<at::Tensor> {
    const c10::Device dev = device();
    at::Tensor group = batch.response_prompt.to(dev, at::kLong);
    if (N > 0 && (group.min().item<int64_t>() < 0 || group.max().item<int64_t>() >= G)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SharedPromptBatch.response_prompt must name prompt rows 0..", G - 1));
    }
    at::Tensor valid_p = batch.prompt_mask.defined()
                             ? batch.prompt_mask.to(dev).ne(0)
                             : at::ones({G, P}, group.options().dtype(at::kBool));
    at::Tensor valid_r = batch.response_mask.defined()
                             ? batch.response_mask.to(dev).ne(0)
                             : at::ones({N, R}, group.options().dtype(at::kBool));
    at::Tensor prompt_len = valid_p.sum(1);  // [G]
    if (G > 0 && prompt_len.min().item<int64_t>() == 0) {
      return absl::InvalidArgumentError("SharedPromptBatch: every prompt needs a real token");
    }
    // Positions: the index among real tokens; a response continues its prompt.
    at::Tensor vp = valid_p.to(at::kLong), vr = valid_r.to(at::kLong);
    at::Tensor pos_p = vp.cumsum(1) - vp;
    at::Tensor pos_r = vr.cumsum(1) - vr + prompt_len.index_select(0, group).unsqueeze(1);
    // Keys: a prompt as any row; a response sees its prompt's real tokens, then itself.
    at::Tensor allowed_p = internal::CausalKeys(valid_p);
    at::Tensor allowed_r = at::cat({valid_p.index_select(0, group).unsqueeze(1).expand({N, R, P}),
                                    internal::CausalKeys(valid_r)},
                                   2);
    auto [cos, sin] = RopeAt(at::cat({pos_p.reshape({-1}), pos_r.reshape({-1})}));
    at::Tensor ids = at::cat({batch.prompt_ids.to(dev, at::kLong).reshape({-1}),
                              batch.response_ids.to(dev, at::kLong).reshape({-1})});
    at::Tensor x = at::embedding(embed_weight_, ids);
    for (const auto& layer : layers_) {
      x = layer->ForwardShared(x, cos, sin, allowed_p, allowed_r, group);
    }
    return norm_->forward(x);
  });
}

at::Tensor DecoderImpl::Logits(const at::Tensor& hidden) {
  return at::linear(hidden, LmHeadWeight()).to(at::kFloat);
}

absl::StatusOr<TokenStats> DecoderImpl::TokenLogProbs(const at::Tensor& hidden,
                                                      const at::Tensor& targets,
                                                      const TokenStatsOptions& options) {
  if (!hidden.defined() || hidden.dim() != 3 || hidden.size(2) != config_.hidden_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("hidden must be [batch, tokens, ", config_.hidden_size, "]"));
  }
  if (!targets.defined() || !IsIntegral(targets) || targets.dim() != 2 ||
      targets.size(0) != hidden.size(0) || targets.size(1) != hidden.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat("targets must be an integer [", hidden.size(0),
                                                   ", ", hidden.size(1),
                                                   "] tensor like hidden's first two dims"));
  }
  if (targets.numel() > 0 && targets.max().item<int64_t>() >= config_.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("targets hold id ", targets.max().item<int64_t>(),
                     ", outside the vocabulary [0, ", config_.vocab_size, ")"));
  }
  return Guarded("Decoder::TokenLogProbs", [&]() -> absl::StatusOr<TokenStats> {
    const int64_t B = hidden.size(0), T = hidden.size(1);
    internal::ChunkedLogProbs r = internal::TokenLogProbsChunked(
        hidden.reshape({B * T, config_.hidden_size}), LmHeadWeight(),
        targets.to(hidden.device(), at::kLong).reshape({B * T}), options.chunk_tokens,
        options.entropy, options.keep_logits_bytes);
    TokenStats stats;
    stats.log_probs = r.log_probs.view({B, T});
    if (options.entropy) stats.entropy = r.entropy.view({B, T});
    return stats;
  });
}

absl::StatusOr<at::Tensor> DecoderImpl::Values(const at::Tensor& hidden) {
  if (!value_head_) {
    return absl::FailedPreconditionError("this model has no value head (model.value_head)");
  }
  if (!hidden.defined() || hidden.dim() != 3 || hidden.size(2) != config_.hidden_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("hidden must be [batch, tokens, ", config_.hidden_size, "]"));
  }
  return value_head_->forward(hidden).squeeze(-1).to(at::kFloat);
}

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
  internal::StepContext ctx;
  ctx.cache = &cache;
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> ids, last_rows(B);
  int64_t max_new = 0, max_len = 0;
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
    for (int64_t i = 0; i < n; ++i) {
      const int32_t id = list[i];
      if (id < 0 || id >= config_.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("Step: token id ", id, " for slot ", slot,
                                                       " is outside the vocabulary [0, ",
                                                       config_.vocab_size, ")"));
      }
      ids.push_back(id);
      ctx.row_slot.push_back(slot);
      ctx.row_pos.push_back(start + i);
      ctx.attention_work += (start + i + 1) * config_.head_dim * config_.num_heads;
    }
    last_rows[b] = static_cast<int64_t>(ids.size()) - 1;
    max_new = std::max(max_new, n);
    max_len = std::max(max_len, start + n);
  }
  const int64_t M = static_cast<int64_t>(ids.size());
  ctx.rows = M;
  return Guarded("Decoder::Step", [&]() -> absl::StatusOr<at::Tensor> {
    torch::NoGradGuard no_grad;
    const c10::Device dev = device();
    const auto long_opts = at::TensorOptions().dtype(at::kLong);
    auto to_dev = [&](const std::vector<int64_t>& v) {
      return at::from_blob(const_cast<int64_t*>(v.data()), {static_cast<int64_t>(v.size())},
                           long_opts)
          .to(dev, /*non_blocking=*/false, /*copy=*/true);
    };
    std::vector<int64_t> flat(M);
    for (int64_t r = 0; r < M; ++r)
      flat[r] = ctx.row_slot[r] * cache.max_seq_len() + ctx.row_pos[r];
    ctx.flat_index = to_dev(flat);
    RopeTables rope = Rope(max_len, dev);
    ctx.fast = use_cpu_kernels_ && dev.is_cpu() && dtype() == at::kFloat;
    if (ctx.fast) {
      ctx.cos_table = rope.cos.data_ptr<float>();
      ctx.sin_table = rope.sin.data_ptr<float>();
    } else {
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
        for (int64_t j = 0; j < max_len; ++j) {
          gather[b * max_len + j] =
              slot * cache.max_seq_len() + std::min(j, cache.max_seq_len() - 1);
        }
        const int64_t n = static_cast<int64_t>(tokens[b].size());
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
    at::Tensor x = at::embedding(embed_weight_, to_dev(ids));
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

Decoder CloneDecoder(const Decoder& source, bool frozen) {
  DecoderOptions options;
  options.value_head = source->has_value_head();
  options.initialize = false;
  Decoder copy(source->config(), options);
  copy->to(source->device(), source->dtype());
  torch::NoGradGuard no_grad;
  auto from = source->named_parameters();
  for (auto& p : copy->named_parameters()) {
    p.value().copy_(from[p.key()]);
    if (frozen) p.value().set_requires_grad(false);
  }
  return copy;
}

absl::Status CopyWeights(const Decoder& source, Decoder& target) {
  auto from = source->named_parameters();
  auto to = target->named_parameters();
  if (from.size() != to.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CopyWeights: source has ", from.size(), " parameters, target ", to.size()));
  }
  for (auto& p : to) {
    const at::Tensor* src = from.find(p.key());
    if (src == nullptr || !src->sizes().equals(p.value().sizes())) {
      return absl::InvalidArgumentError(
          absl::StrCat("CopyWeights: parameter '", p.key(), "' is missing or differs in shape"));
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& p : to) p.value().copy_(from[p.key()]);
  return absl::OkStatus();
}

}  // namespace ponder::model
