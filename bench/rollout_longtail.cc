// Long-tail rollout workload: response lengths drawn so that 10% of samples are 8x the median
// (reasoning RL's long tail), on the ~25M-parameter model, with the same 32 concurrent
// sequences three ways in the same run:
//   continuous      the engine's continuous batching: a finished sample's slot goes to the
//                   next one at once;
//   static          batches of 32, one after another, each running until its longest member
//                   is done, every row decoded at every step (as transformers' `generate`
//                   does: finished rows keep producing padding); only each sample's own tokens
//                   count as useful;
//   static, drop    the same batches, but finished rows leave the step (fewer FLOPs per step;
//                   still no new sample until the whole batch is done): a generous baseline.
// Reports useful (generated) tokens per second.
//
//   make bench BENCH=rollout_longtail
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_format.h"
#include "bench/rollout_bench_common.h"
#include "model/decoder.h"
#include "rollout/engine.h"

namespace ponder::bench {
namespace {

constexpr int kSamples = 160, kSlots = 32, kMedian = 32, kPromptLen = 16;

struct Run {
  double seconds = 0;
  int64_t tokens = 0, steps = 0;
};

std::vector<rollout::PromptRequest> Workload(int vocab) {
  std::mt19937_64 rng(7);
  std::vector<int> lengths;
  for (int i = 0; i < kSamples; ++i) {
    lengths.push_back(i < kSamples / 10 ? 8 * kMedian
                                        : std::uniform_int_distribution<int>(kMedian * 3 / 4,
                                                                             kMedian * 5 / 4)(rng));
  }
  std::shuffle(lengths.begin(), lengths.end(), rng);
  rollout::SamplingOptions s;
  s.temperature = 1.0;
  std::vector<rollout::PromptRequest> prompts = Prompts(kSamples, kPromptLen, vocab, s);
  for (int i = 0; i < kSamples; ++i) {
    prompts[i].sampling.max_new_tokens = lengths[i];
    prompts[i].sampling.seed = static_cast<uint64_t>(i);
  }
  return prompts;
}

enum class Mode { kContinuous, kStatic, kStaticDrop };

Run Measure(const std::shared_ptr<model::DecoderImpl>& model,
            const std::vector<rollout::PromptRequest>& prompts, Mode mode) {
  const bool continuous = mode == Mode::kContinuous;
  rollout::EngineOptions o;
  o.max_seq_len = kPromptLen + 8 * kMedian;
  o.max_running = kSlots;
  o.kv_cache_bytes = int64_t{4} << 30;
  std::unique_ptr<rollout::RolloutEngine> engine = OrDie(rollout::RolloutEngine::Create(model, o));
  Run run;
  auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < prompts.size(); begin += continuous ? prompts.size() : kSlots) {
    rollout::GenerateRequest request;
    const size_t end = continuous ? prompts.size() : std::min(prompts.size(), begin + kSlots);
    request.prompts.assign(prompts.begin() + begin, prompts.begin() + end);
    int64_t longest = 0;
    for (const auto& p : request.prompts) longest = std::max(longest, p.sampling.max_new_tokens);
    for (auto& p : request.prompts) {
      run.tokens += p.sampling.max_new_tokens;  // the sample's own (useful) tokens
      if (mode == Mode::kStatic) p.sampling.max_new_tokens = longest;  // padding rows
    }
    OrDie(engine->Generate(request));
  }
  run.seconds = Seconds(start);
  run.steps = engine->counters().steps;
  return run;
}

int Main() {
  at::set_num_threads(BenchThreads());
  const model::ModelConfig config = Llama25M();
  torch::manual_seed(0);
  model::Decoder decoder(config);
  std::vector<rollout::PromptRequest> prompts = Workload(static_cast<int>(config.vocab_size));
  std::vector<int64_t> lengths;
  for (const auto& p : prompts) lengths.push_back(p.sampling.max_new_tokens);
  std::sort(lengths.begin(), lengths.end());
  std::cout << absl::StrFormat(
      "long-tail rollouts: %d samples, response lengths median %d, max %d (10%% at 8x the "
      "median), %d concurrent sequences, %.1fM-parameter model, %d thread(s)\n",
      kSamples, lengths[lengths.size() / 2], lengths.back(), kSlots, config.NumParameters() / 1e6,
      at::get_num_threads());
  Measure(decoder.ptr(), std::vector<rollout::PromptRequest>(prompts.begin(), prompts.begin() + 8),
          Mode::kContinuous);  // warm-up
  Run continuous = Measure(decoder.ptr(), prompts, Mode::kContinuous);
  Run fixed = Measure(decoder.ptr(), prompts, Mode::kStatic);
  Run drop = Measure(decoder.ptr(), prompts, Mode::kStaticDrop);
  std::cout << absl::StrFormat("%-14s %14s %9s %7s %14s %22s\n", "batching", "useful tokens",
                               "seconds", "steps", "useful tok/s", "continuous is faster by");
  const double ours = continuous.tokens / continuous.seconds;
  for (const auto& [name, r] : {std::pair<const char*, Run>{"continuous", continuous},
                                std::pair<const char*, Run>{"static", fixed},
                                std::pair<const char*, Run>{"static, drop", drop}}) {
    std::cout << absl::StrFormat("%-14s %14d %9.2f %7d %14.0f %21.2fx\n", name, r.tokens, r.seconds,
                                 r.steps, r.tokens / r.seconds, ours / (r.tokens / r.seconds));
  }
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
