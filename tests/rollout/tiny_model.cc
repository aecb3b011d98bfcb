#include "tests/rollout/tiny_model.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cstring>
#include <string>

#include "model/decoder.h"

namespace ponder::rollout::testing {
namespace {

at::Tensor Ids(const std::vector<int32_t>& prompt, const std::vector<int32_t>& generated) {
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  ids.insert(ids.end(), generated.begin(), generated.end());
  return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())});
}

}  // namespace

std::shared_ptr<model::DecoderImpl> MakeTinyModel(uint64_t seed, const TinyModelOptions& o) {
  model::ModelConfig c;
  c.vocab_size = o.vocab;
  c.hidden_size = o.hidden;
  c.intermediate_size = o.intermediate;
  c.num_layers = o.layers;
  c.num_heads = o.heads;
  c.num_kv_heads = o.kv_heads;
  c.head_dim = o.hidden / o.heads;
  c.max_position_embeddings = o.max_positions;
  c.rms_norm_eps = 1e-6;
  model::DecoderOptions options;
  options.initialize = false;
  auto m = std::make_shared<model::DecoderImpl>(c, options);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters()) {
    if (p.key().find("norm") != std::string::npos) {
      p.value().fill_(1.0);
    } else {
      p.value().normal_(0.0, o.init_std, gen);
    }
  }
  return m;
}

std::vector<WeightTensor> WeightsOf(const std::shared_ptr<model::DecoderImpl>& model) {
  std::vector<WeightTensor> out;
  for (const auto& p : model->named_parameters()) {
    at::Tensor t = p.value().detach().to(at::kFloat).contiguous().clone();
    auto bytes = std::make_shared<std::string>(t.numel() * sizeof(float), '\0');
    std::memcpy(bytes->data(), t.data_ptr<float>(), bytes->size());
    WeightTensor w;
    w.name = p.key();
    w.dtype = WeightDType::kF32;
    w.shape.assign(t.sizes().begin(), t.sizes().end());
    w.data = bytes->data();
    w.bytes = bytes->size();
    w.owner = bytes;
    out.push_back(std::move(w));
  }
  return out;
}

void OverwriteInPlace(const std::shared_ptr<model::DecoderImpl>& target,
                      const std::shared_ptr<model::DecoderImpl>& source) {
  torch::NoGradGuard no_grad;
  auto from = source->named_parameters();
  for (auto& p : target->named_parameters()) p.value().copy_(from[p.key()]);
}

std::vector<float> TrainerLogProbs(const std::shared_ptr<model::DecoderImpl>& model,
                                   const std::vector<int32_t>& prompt,
                                   const std::vector<int32_t>& generated, double temperature) {
  torch::NoGradGuard no_grad;
  at::Tensor ids = Ids(prompt, generated);
  const int64_t P = static_cast<int64_t>(prompt.size()), L = ids.size(1);
  at::Tensor targets = at::full({1, L}, -1, at::kLong);
  targets.narrow(1, P - 1, L - P).copy_(ids.narrow(1, P, L - P));
  at::Tensor hidden = *model->Hidden(ids);
  model::TokenStatsOptions options;
  options.entropy = false;
  at::Tensor lp = model->TokenLogProbs(hidden / temperature, targets, options)->log_probs;
  at::Tensor out = lp.narrow(1, P - 1, L - P).contiguous();
  return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
}

std::vector<float> TopKLogProbs(const std::shared_ptr<model::DecoderImpl>& model,
                                const std::vector<int32_t>& prompt,
                                const std::vector<int32_t>& generated, double temperature,
                                int64_t top_k) {
  torch::NoGradGuard no_grad;
  at::Tensor ids = Ids(prompt, generated);
  const int64_t P = static_cast<int64_t>(prompt.size()), L = ids.size(1);
  at::Tensor logits = model->Logits(*model->Hidden(ids))[0].narrow(0, P - 1, L - P) / temperature;
  at::Tensor kth = std::get<0>(logits.topk(top_k, 1)).narrow(1, top_k - 1, 1);
  at::Tensor masked = logits.masked_fill(logits < kth, -std::numeric_limits<double>::infinity());
  at::Tensor lp = at::log_softmax(masked, 1)
                      .gather(1, ids[0].narrow(0, P, L - P).unsqueeze(1))
                      .squeeze(1)
                      .contiguous();
  return std::vector<float>(lp.data_ptr<float>(), lp.data_ptr<float>() + lp.numel());
}

}  // namespace ponder::rollout::testing
