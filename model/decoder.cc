#include "model/decoder.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "model/internal/chunked_log_probs.h"
#include "model/internal/decoder_layer.h"
#include "model/internal/fused_attention.h"

namespace ponder::model {
namespace internal {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool bias) {
  weight = register_parameter("weight", at::empty({out, in}));
  if (bias) this->bias = register_parameter("bias", at::zeros({out}));
}

// Weights kept in a wider dtype than x (float32 master weights) are cast to x's.
at::Tensor LinearImpl::forward(const at::Tensor& x) const {
  if (x.scalar_type() == weight.scalar_type()) return at::linear(x, weight, bias);
  const c10::ScalarType t = x.scalar_type();
  return at::linear(x, weight.to(t), bias.defined() ? bias.to(t) : bias);
}

RmsNormImpl::RmsNormImpl(int64_t n, double eps) : eps(eps) {
  weight = register_parameter("weight", at::ones({n}));
}

at::Tensor RmsNormImpl::forward(const at::Tensor& x) const {
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight.to(x.scalar_type()) * h.to(x.scalar_type());
}

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

at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& allowed, double scale) {
  const int64_t B = q.size(0), Tq = q.size(1), H = q.size(2), hd = q.size(3);
  const int64_t kvh = k.size(2), Lk = k.size(1), rep = H / kvh;
  if (FusedAttentionEnabled()) return FusedAttention(q, k, v, allowed, scale);
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

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) : config(c) {
  const int64_t q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  auto attn = register_module("self_attn", std::make_shared<torch::nn::Module>("Attention"));
  q_proj = attn->register_module("q_proj",
                                 std::make_shared<LinearImpl>(c.hidden_size, q_dim, c.qkv_bias));
  k_proj = attn->register_module("k_proj",
                                 std::make_shared<LinearImpl>(c.hidden_size, kv_dim, c.qkv_bias));
  v_proj = attn->register_module("v_proj",
                                 std::make_shared<LinearImpl>(c.hidden_size, kv_dim, c.qkv_bias));
  o_proj =
      attn->register_module("o_proj", std::make_shared<LinearImpl>(q_dim, c.hidden_size, c.o_bias));
  if (c.qk_norm) {
    q_norm =
        attn->register_module("q_norm", std::make_shared<RmsNormImpl>(c.head_dim, c.rms_norm_eps));
    k_norm =
        attn->register_module("k_norm", std::make_shared<RmsNormImpl>(c.head_dim, c.rms_norm_eps));
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

at::Tensor DecoderLayerImpl::Mlp(const at::Tensor& h) const {
  return down_proj->forward(at::silu(gate_proj->forward(h)) * up_proj->forward(h));
}

double DecoderLayerImpl::AttentionScale() const {
  return 1.0 / std::sqrt(static_cast<double>(config.head_dim));
}

template <typename AttendFn>
at::Tensor DecoderLayerImpl::Apply(const at::Tensor& x, const at::Tensor& cos,
                                   const at::Tensor& sin, const AttendFn& attend) const {
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
  at::Tensor out = x + o_proj->forward(attend(RotateHalf(q, cos, sin), RotateHalf(k, cos, sin), v));
  return out + Mlp(post_attention_layernorm->forward(out));
}

at::Tensor DecoderLayerImpl::Forward(const at::Tensor& x, const at::Tensor& cos,
                                     const at::Tensor& sin, const at::Tensor& allowed) const {
  return Apply(x, cos, sin, [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    return Attend(q, k, v, allowed, AttentionScale());
  });
}

at::Tensor DecoderLayerImpl::ForwardShared(const at::Tensor& x, const at::Tensor& cos,
                                           const at::Tensor& sin, const at::Tensor& allowed_p,
                                           const at::Tensor& allowed_r,
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

}  // namespace internal

namespace {

using internal::DecoderLayerImpl;
using internal::Guarded;
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

c10::ScalarType DecoderImpl::dtype() const {
  return compute_dtype_.value_or(embed_weight_.scalar_type());
}
c10::ScalarType DecoderImpl::param_dtype() const { return embed_weight_.scalar_type(); }

void DecoderImpl::set_compute_dtype(std::optional<c10::ScalarType> dtype) {
  compute_dtype_ = dtype;
}

at::Tensor DecoderImpl::Embed(const at::Tensor& ids) const {
  return at::embedding(embed_weight_, ids).to(dtype());
}
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
    at::Tensor x = Embed(ids);
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
    at::Tensor x = Embed(ids);
    for (const auto& layer : layers_) {
      x = layer->ForwardShared(x, cos, sin, allowed_p, allowed_r, group);
    }
    return norm_->forward(x);
  });
}

at::Tensor DecoderImpl::Logits(const at::Tensor& hidden) {
  return at::linear(hidden, LmHeadWeight().to(hidden.scalar_type())).to(at::kFloat);
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

Decoder CloneDecoder(const Decoder& source, bool frozen) {
  DecoderOptions options;
  options.value_head = source->has_value_head();
  options.initialize = false;
  Decoder copy(source->config(), options);
  copy->to(source->device(), source->param_dtype());
  copy->set_compute_dtype(source->compute_dtype());
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
