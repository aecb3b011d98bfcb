// The decoder against independent references: llama2.c's published stories260K outputs and
// the float64 reference of tests/model/make_reference_models.py; and the two forward paths
// (training, generation with a KV cache) against each other.
#include "model/decoder.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/kv_cache.h"
#include "model/safetensors.h"
#include "tests/testing.h"

namespace ponder::model {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const char kStories[] = "tests/data/model/stories260K/stories260K.bin";
const char kTiny[] = "tests/data/model/tiny/";

Decoder Load(const std::string& path, Precision dtype = Precision::kFloat32,
             bool value_head = false) {
  ModelOptions options;
  options.path = testing::SourcePath(path);
  options.dtype = dtype;
  options.value_head = value_head;
  absl::StatusOr<Decoder> model = LoadModel(options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : Decoder(nullptr);
}

json ReadJson(const std::string& path) {
  return json::parse(testing::ReadFile(testing::SourcePath(path)));
}

// Blocks of 4 tokens, so that sequences span several blocks, interleaved in the pool.
KvCache MakeCache(const Decoder& model, int64_t slots, int64_t max_len) {
  KvCacheOptions options;
  options.num_slots = slots;
  options.max_seq_len = max_len;
  options.block_size = 4;
  absl::StatusOr<KvCache> cache =
      KvCache::Create(model->config(), options, model->dtype(), model->device());
  EXPECT_TRUE(cache.ok()) << cache.status();
  return std::move(cache).value();
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// ---- stories260K: llama2.c's published outputs -----------------------------------------

TEST(Stories260KTest, FirstLogitsMatchLlama2c) {
  json ref = ReadJson("tests/data/model/stories260K/reference_outputs.json");
  std::vector<float> expected = ref["derived_here"]["logits_pos0_after_bos"]["values"];
  Decoder model = Load(kStories);
  for (bool kernels : {true, false}) {
    model->set_use_cpu_kernels(kernels);
    KvCache cache = MakeCache(model, 1, 8);
    int64_t slot = *cache.Acquire();
    absl::StatusOr<at::Tensor> logits = model->Step(cache, {slot}, {{1}});
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_EQ(logits->sizes(), (std::vector<int64_t>{1, 512}));
    at::Tensor want = at::tensor(expected);
    EXPECT_LT(MaxAbsDiff(logits->squeeze(0), want), 1e-4) << "kernels " << kernels;
    EXPECT_EQ(logits->argmax().item<int64_t>(), 403);
  }
  // The training path agrees.
  absl::StatusOr<at::Tensor> hidden = model->Hidden(at::tensor({int64_t{1}}).view({1, 1}));
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  EXPECT_LT(MaxAbsDiff(model->Logits(*hidden).view({512}), at::tensor(expected)), 1e-4);
}

TEST(Stories260KTest, GreedyFromBosReproducesLlama2c) {
  json ref = ReadJson("tests/data/model/stories260K/reference_outputs.json");
  std::vector<int32_t> expected = ref["derived_here"]["greedy_from_bos"]["generated_ids"];
  ASSERT_EQ(expected.size(), 200u);
  Decoder model = Load(kStories);
  GenerationParams params;
  params.max_new_tokens = 200;
  params.sampling.temperature = 0;
  params.stop_ids = {1};
  for (bool kernels : {true, false}) {
    model->set_use_cpu_kernels(kernels);
    absl::StatusOr<std::vector<int32_t>> ids = GenerateIds(*model, {1}, params);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected) << "kernels " << kernels;
  }
}

TEST(Stories260KTest, GreedyAfterAPromptReproducesLlama2c) {
  json ref = ReadJson("tests/data/model/stories260K/reference_outputs.json");
  const json& c = ref["derived_here"]["greedy_with_prompt"];
  std::vector<int32_t> prompt = c["prompt_ids"];
  std::vector<int32_t> next = c["next_ids_per_position"];
  // Entries from prompt.size() - 1 on are the argmax choices after the prompt.
  std::vector<int32_t> expected(next.begin() + (prompt.size() - 1), next.end());
  Decoder model = Load(kStories);
  GenerationParams params;
  params.max_new_tokens = static_cast<int64_t>(expected.size());
  params.sampling.temperature = 0;
  params.stop_ids = {1};
  absl::StatusOr<std::vector<int32_t>> ids = GenerateIds(*model, prompt, params);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, expected);
}

// ---- tiny Qwen2 / Qwen3: the Python float64 reference ---------------------------------

struct Batch {
  at::Tensor ids, targets, mask;  // [B, T]
};

// The reference sequences right-padded (or left-padded) into one batch; targets are the next
// tokens, -100 where there is none.
Batch PadBatch(const std::vector<std::vector<int64_t>>& seqs, bool left) {
  int64_t T = 0;
  for (const auto& s : seqs) T = std::max<int64_t>(T, s.size());
  const int64_t B = seqs.size();
  Batch b{at::zeros({B, T}, at::kLong), at::full({B, T}, -100, at::kLong),
          at::zeros({B, T}, at::kLong)};
  for (int64_t i = 0; i < B; ++i) {
    const int64_t n = seqs[i].size(), off = left ? T - n : 0;
    for (int64_t t = 0; t < n; ++t) {
      b.ids[i][off + t] = seqs[i][t];
      b.mask[i][off + t] = 1;
      if (t + 1 < n) b.targets[i][off + t] = seqs[i][t + 1];
    }
  }
  return b;
}

// Reference values for sequence i, in the batch's layout.
void ExpectMatchesReference(const at::Tensor& got, const json& ref, const Batch& batch, double tol,
                            const std::string& what) {
  for (int64_t i = 0; i < batch.ids.size(0); ++i) {
    std::vector<double> want = ref[i];
    std::vector<double> have;
    for (int64_t t = 0; t < batch.ids.size(1); ++t) {
      if (batch.targets[i][t].item<int64_t>() >= 0) have.push_back(got[i][t].item<double>());
    }
    ASSERT_EQ(have.size(), want.size()) << what;
    for (size_t t = 0; t < want.size(); ++t) {
      EXPECT_NEAR(have[t], want[t], tol) << what << " sequence " << i << " token " << t;
    }
  }
}

class TinyModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ref_ = ReadJson(std::string(kTiny) + "reference.json");
    for (const auto& s : ref_["sequences"]) seqs_.push_back(s.get<std::vector<int64_t>>());
  }
  json ref_;
  std::vector<std::vector<int64_t>> seqs_;
};

TEST_P(TinyModelTest, TrainingPathMatchesReference) {
  Decoder model = Load(std::string(kTiny) + GetParam());
  const json& want = ref_["models"][GetParam()];
  for (bool left : {false, true}) {
    Batch b = PadBatch(seqs_, left);
    BatchLayout layout;
    layout.attention_mask = b.mask;
    absl::StatusOr<at::Tensor> hidden = model->Hidden(b.ids, layout);
    ASSERT_TRUE(hidden.ok()) << hidden.status();
    for (int64_t chunk : {1, 5, 1024}) {
      TokenStatsOptions options;
      options.chunk_tokens = chunk;
      absl::StatusOr<TokenStats> stats = model->TokenLogProbs(*hidden, b.targets, options);
      ASSERT_TRUE(stats.ok()) << stats.status();
      const std::string what =
          GetParam() + (left ? " left" : " right") + " chunk " + std::to_string(chunk);
      ExpectMatchesReference(stats->log_probs, want["log_probs"], b, 1e-5, what);
      ExpectMatchesReference(stats->entropy, want["entropy"], b, 1e-5, what);
      // Ignored targets give 0.
      EXPECT_EQ(stats->log_probs.masked_select(b.targets.lt(0)).abs().sum().item<double>(), 0);
    }
  }
}

TEST_P(TinyModelTest, PackedSequencesMatchReference) {
  Decoder model = Load(std::string(kTiny) + GetParam());
  // All three sequences in one row, then padding.
  std::vector<int64_t> ids, targets, segments, mask;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    for (size_t t = 0; t < seqs_[i].size(); ++t) {
      ids.push_back(seqs_[i][t]);
      targets.push_back(t + 1 < seqs_[i].size() ? seqs_[i][t + 1] : -100);
      segments.push_back(static_cast<int64_t>(i));
      mask.push_back(1);
    }
  }
  for (int pad = 0; pad < 3; ++pad) {
    ids.push_back(0);
    targets.push_back(-100);
    segments.push_back(99);
    mask.push_back(0);
  }
  const int64_t T = ids.size();
  BatchLayout layout;
  layout.segment_ids = at::tensor(segments).view({1, T});
  layout.attention_mask = at::tensor(mask).view({1, T});
  absl::StatusOr<at::Tensor> hidden = model->Hidden(at::tensor(ids).view({1, T}), layout);
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  absl::StatusOr<TokenStats> stats =
      model->TokenLogProbs(*hidden, at::tensor(targets).view({1, T}));
  ASSERT_TRUE(stats.ok()) << stats.status();
  size_t k = 0;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    std::vector<double> want = ref_["models"][GetParam()]["log_probs"][i];
    for (size_t t = 0; t < seqs_[i].size(); ++t, ++k) {
      if (t + 1 < seqs_[i].size()) {
        EXPECT_NEAR(stats->log_probs[0][k].item<double>(), want[t], 1e-5) << i << " " << t;
      }
    }
  }
}

TEST_P(TinyModelTest, GenerationPathMatchesTrainingPath) {
  Decoder model = Load(std::string(kTiny) + GetParam());
  Batch b = PadBatch(seqs_, false);
  BatchLayout layout;
  layout.attention_mask = b.mask;
  at::Tensor train_lp = model->TokenLogProbs(*model->Hidden(b.ids, layout), b.targets)->log_probs;
  for (bool kernels : {true, false}) {
    model->set_use_cpu_kernels(kernels);
    KvCache cache = MakeCache(model, 4, 16);
    // All sequences at once, in slots 3, 0, 2 (not in order, not contiguous): first a prompt of
    // 1-3 tokens each, then one token per step; sequences end at different steps.
    const std::vector<int64_t> slot_of = {3, 0, 2};
    for (int64_t s = 0; s < 4; ++s) ASSERT_TRUE(cache.Acquire().ok());
    std::vector<size_t> fed(seqs_.size(), 0);
    std::vector<std::vector<double>> got(seqs_.size());
    for (int step = 0;; ++step) {
      std::vector<int64_t> slots;
      std::vector<std::vector<int32_t>> tokens;
      std::vector<size_t> which;
      for (size_t i = 0; i < seqs_.size(); ++i) {
        if (fed[i] >= seqs_[i].size()) continue;
        const size_t n = step == 0 ? i + 1 : 1;
        std::vector<int32_t> t(seqs_[i].begin() + fed[i], seqs_[i].begin() + fed[i] + n);
        slots.push_back(slot_of[i]);
        tokens.push_back(t);
        which.push_back(i);
      }
      if (slots.empty()) break;
      absl::StatusOr<at::Tensor> logits = model->Step(cache, slots, tokens);
      ASSERT_TRUE(logits.ok()) << logits.status();
      at::Tensor logp = at::log_softmax(*logits, -1);
      for (size_t j = 0; j < which.size(); ++j) {
        const size_t i = which[j];
        fed[i] += tokens[j].size();
        if (fed[i] < seqs_[i].size()) {
          got[i].push_back(logp[j][seqs_[i][fed[i]]].item<double>());
        }
      }
    }
    for (size_t i = 0; i < seqs_.size(); ++i) {
      const size_t first = i + 1;  // the first log-prob comes after the i+1-token prompt
      ASSERT_EQ(got[i].size(), seqs_[i].size() - first);
      for (size_t k = 0; k < got[i].size(); ++k) {
        EXPECT_NEAR(got[i][k], train_lp[i][first - 1 + k].item<double>(), 1e-5)
            << GetParam() << " kernels " << kernels << " sequence " << i << " token " << k;
      }
      EXPECT_EQ(cache.length(slot_of[i]), static_cast<int64_t>(seqs_[i].size()));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Folders, TinyModelTest,
                         ::testing::Values("qwen2", "qwen2_sharded", "qwen2_bf16", "qwen2_fp16",
                                           "qwen3"));

TEST(TinyGradientTest, BackwardMatchesReference) {
  json ref = ReadJson(std::string(kTiny) + "reference.json");
  std::vector<std::vector<int64_t>> seqs;
  for (const auto& s : ref["sequences"]) seqs.push_back(s.get<std::vector<int64_t>>());
  // Both backward paths: the log-probs kept from the forward, and recomputed per chunk.
  for (int64_t keep_bytes : {int64_t{256} << 20, int64_t{0}}) {
    SCOPED_TRACE(keep_bytes > 0 ? "kept log-probs" : "recomputed logits");
    Decoder model = Load(std::string(kTiny) + "qwen2");
    Batch b = PadBatch(seqs, true);
    BatchLayout layout;
    layout.attention_mask = b.mask;
    TokenStatsOptions options;
    options.chunk_tokens = 7;
    options.keep_logits_bytes = keep_bytes;
    TokenStats stats = *model->TokenLogProbs(*model->Hidden(b.ids, layout), b.targets, options);
    (stats.log_probs.sum() + 0.5 * stats.entropy.sum()).backward();
    absl::StatusOr<SafetensorsFile> grads =
        SafetensorsFile::Open(testing::SourcePath(std::string(kTiny) + "qwen2_grads.safetensors"));
    ASSERT_TRUE(grads.ok()) << grads.status();
    auto params = model->named_parameters();
    ASSERT_EQ(grads->tensors().size(), 4u);
    for (const TensorData& g : grads->tensors()) {
      at::Tensor want = at::from_blob(const_cast<void*>(g.data), g.shape, at::kDouble);
      at::Tensor have = params[g.name].grad();
      ASSERT_TRUE(have.defined()) << g.name;
      const double scale = want.abs().max().item<double>();
      EXPECT_LT(MaxAbsDiff(have, want), 1e-4 * scale) << g.name;
    }
  }
}

TEST(StepTest, FusedKernelsAndTensorOpsAgreeForEveryRowCount) {
  // 2-8 new rows in all (a prompt of 1-7 tokens plus one token for another slot): up to four go
  // through the streaming matrix kernel (a block of four, single rows), more through BLAS; the
  // tensor-op path is the reference. The two slots hold different lengths.
  Decoder model = Load(std::string(kTiny) + "qwen2");
  const std::vector<int32_t> ids = {3, 17, 42, 8, 63, 0, 25};
  for (size_t rows = 1; rows <= ids.size(); ++rows) {
    at::Tensor logits[2];
    for (int kernels = 0; kernels < 2; ++kernels) {
      model->set_use_cpu_kernels(kernels == 1);
      KvCache cache = MakeCache(model, 2, 16);
      const int64_t a = *cache.Acquire(), b = *cache.Acquire();
      ASSERT_TRUE(model->Step(cache, {b}, {{9, 9, 1}}).ok());
      std::vector<int32_t> prompt(ids.begin(), ids.begin() + rows);
      logits[kernels] = *model->Step(cache, {a, b}, {prompt, {4}});
    }
    EXPECT_LT(MaxAbsDiff(logits[0], logits[1]), 1e-5) << rows << " rows";
  }
}

// ---- KV cache -----------------------------------------------------------------------------

TEST(StepTest, ForkedSlotsContinueLikeTheirSource) {
  Decoder model = Load(std::string(kTiny) + "qwen2");
  for (bool kernels : {true, false}) {
    model->set_use_cpu_kernels(kernels);
    KvCache cache = MakeCache(model, 4, 16);
    const int64_t a = *cache.Acquire(), b = *cache.Acquire(), c = *cache.Acquire();
    // Six tokens in blocks of 4: the forks share one full and one partly filled block, which
    // their next tokens copy before writing.
    const std::vector<int32_t> prompt = {5, 9, 13, 2, 11, 4};
    at::Tensor prefill = *model->Step(cache, {a}, {prompt});
    ASSERT_TRUE(cache.Fork(a, {b, c}).ok());
    EXPECT_EQ(cache.length(b), 6);
    EXPECT_EQ(cache.block_table(b), cache.block_table(a));
    // Different continuations of the shared prompt, and a fresh prefill to compare with.
    at::Tensor forked = *model->Step(cache, {a, b, c}, {{7}, {8}, {9}});
    EXPECT_EQ(cache.block_table(b)[0], cache.block_table(a)[0]);
    EXPECT_NE(cache.block_table(b)[1], cache.block_table(a)[1]);
    const int64_t d = *cache.Acquire();
    at::Tensor fresh = *model->Step(cache, {d}, {{5, 9, 13, 2, 11, 4, 8}});
    EXPECT_LT(MaxAbsDiff(forked[1], fresh[0]), 1e-5);
    // Truncate back to the prompt and continue: same as the first continuation.
    ASSERT_TRUE(cache.Truncate(c, 6).ok());
    at::Tensor again = *model->Step(cache, {c}, {{7}});
    EXPECT_LT(MaxAbsDiff(again[0], forked[0]), 1e-5);
  }
}

TEST(StepTest, AFullPoolIsResourceExhaustedAndWritesNothing) {
  Decoder model = Load(std::string(kTiny) + "qwen2");
  KvCacheOptions options;
  options.num_slots = 2;
  options.max_seq_len = 8;
  options.block_size = 4;
  options.num_blocks = 2;
  KvCache cache = *KvCache::Create(model->config(), options, model->dtype(), model->device());
  const int64_t a = *cache.Acquire(), b = *cache.Acquire();
  ASSERT_TRUE(model->Step(cache, {a}, {{1, 2, 3, 4, 5, 6, 7}}).ok());
  absl::StatusOr<at::Tensor> r = model->Step(cache, {a, b}, {{8}, {1}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("the KV cache has 0 free blocks of 2; these tokens need 1"));
  EXPECT_EQ(cache.length(a), 7);
  EXPECT_EQ(cache.length(b), 0);
  ASSERT_TRUE(model->Step(cache, {a}, {{8}}).ok());  // fits in a's last block
  ASSERT_TRUE(cache.Release(a).ok());
  EXPECT_TRUE(model->Step(cache, {b}, {{1}}).ok());
}

TEST(StepTest, BadCallsAreRejectedAndWriteNothing) {
  Decoder model = Load(std::string(kTiny) + "qwen2");
  KvCache cache = MakeCache(model, 2, 6);
  const int64_t a = *cache.Acquire();
  ASSERT_TRUE(model->Step(cache, {a}, {{1, 2}}).ok());
  struct Case {
    std::vector<int64_t> slots;
    std::vector<std::vector<int32_t>> tokens;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{1}, {{3}}, "slot 1 is not acquired"},
      {{5}, {{3}}, "slot 5 is outside the cache's 2 slots"},
      {{a, a}, {{3}, {4}}, "slot 0 is given twice"},
      {{a}, {{}}, "no tokens for slot 0"},
      {{a}, {{3, 64}}, "token id 64 for slot 0 is outside the vocabulary [0, 64)"},
      {{a}, {{-1}}, "token id -1"},
      {{a}, {{1, 2, 3, 4, 5}}, "slot 0 holds 2 tokens; 5 more exceed max_seq_len 6"},
      {{a}, {{1}, {2}}, "1 slots but 2 token lists"},
      {{}, {}, "no slots"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<at::Tensor> r = model->Step(cache, c.slots, c.tokens);
    ASSERT_FALSE(r.ok()) << c.expected;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.expected));
    EXPECT_EQ(cache.length(a), 2) << c.expected;
  }
}

TEST(HiddenTest, BadInputsAreRejected) {
  Decoder model = Load(std::string(kTiny) + "qwen2");
  absl::StatusOr<at::Tensor> r = model->Hidden(at::tensor({int64_t{70}}).view({1, 1}));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("input_ids holds id 70, outside the vocabulary [0, 64)"));
  r = model->Hidden(at::zeros({2, 3}, at::kFloat));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("input_ids must be an integer tensor"));
  r = model->Hidden(at::zeros({3}, at::kLong));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("must be a [batch, tokens] tensor"));
  BatchLayout layout;
  layout.attention_mask = at::ones({2, 4}, at::kLong);
  r = model->Hidden(at::zeros({2, 3}, at::kLong), layout);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("BatchLayout.attention_mask must be [2, 3] like input_ids (got [2, 4])"));
  at::Tensor hidden = *model->Hidden(at::zeros({2, 3}, at::kLong));
  absl::StatusOr<TokenStats> s = model->TokenLogProbs(hidden, at::zeros({2, 2}, at::kLong));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("targets must be an integer [2, 3]"));
  s = model->TokenLogProbs(hidden, at::full({2, 3}, 64, at::kLong));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("targets hold id 64"));
  EXPECT_EQ(model->Values(hidden).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ValueHeadTest, ValuesAreDifferentiableAndClonesAreDeep) {
  Decoder model = Load(std::string(kTiny) + "qwen2", Precision::kFloat32, /*value_head=*/true);
  ASSERT_TRUE(model->has_value_head());
  at::Tensor ids = at::tensor(std::vector<int64_t>{3, 4, 5, 6}).view({2, 2});
  at::Tensor hidden = *model->Hidden(ids);
  absl::StatusOr<at::Tensor> values = model->Values(hidden);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->sizes(), (std::vector<int64_t>{2, 2}));
  // The value is w . h + b for each position.
  auto params = model->named_parameters();
  at::Tensor manual =
      at::matmul(hidden, params["value_head.weight"].t()).squeeze(-1) + params["value_head.bias"];
  EXPECT_LT(MaxAbsDiff(*values, manual), 1e-6);
  values->sum().backward();
  EXPECT_TRUE(params["value_head.weight"].grad().defined());
  EXPECT_TRUE(params["model.layers.0.mlp.up_proj.weight"].grad().defined());

  Decoder copy = CloneDecoder(model, /*frozen=*/true);
  auto copied = copy->named_parameters();
  EXPECT_FALSE(copied["lm_head.weight"].requires_grad());
  {
    torch::NoGradGuard no_grad;
    params["lm_head.weight"].add_(1.0);
  }
  EXPECT_GT(MaxAbsDiff(params["lm_head.weight"], copied["lm_head.weight"]), 0.5);
  ASSERT_TRUE(CopyWeights(model, copy).ok());
  EXPECT_EQ(MaxAbsDiff(params["lm_head.weight"], copied["lm_head.weight"]), 0);
}

TEST(PrecisionTest, Bfloat16ModelRunsBothPathsOnTheCpu) {
  Decoder model = Load(std::string(kTiny) + "qwen2_bf16", Precision::kBFloat16);
  EXPECT_EQ(model->dtype(), at::kBFloat16);
  json ref = ReadJson(std::string(kTiny) + "reference.json");
  std::vector<int64_t> seq = ref["sequences"][1];
  const int64_t T = seq.size();
  at::Tensor hidden = *model->Hidden(at::tensor(seq).view({1, T}));
  at::Tensor targets = at::full({1, T}, -100, at::kLong);
  for (int64_t t = 0; t + 1 < T; ++t) targets[0][t] = seq[t + 1];
  TokenStats stats = *model->TokenLogProbs(hidden, targets);
  std::vector<double> want = ref["models"]["qwen2_bf16"]["log_probs"][1];
  for (int64_t t = 0; t + 1 < T; ++t) {
    // bf16 activations: about 3 significant digits.
    EXPECT_NEAR(stats.log_probs[0][t].item<double>(), want[t], 0.05 + 0.02 * std::abs(want[t]));
  }
  KvCache cache = MakeCache(model, 1, T);
  std::vector<int32_t> prompt(seq.begin(), seq.end());
  const int64_t slot = *cache.Acquire();
  absl::StatusOr<at::Tensor> logits = model->Step(cache, {slot}, {prompt});
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->scalar_type(), at::kFloat);
}

}  // namespace
}  // namespace ponder::model
