// Long chain-of-thought rollouts at one KV budget: the ~43M-parameter LLaMA-style shape
// (2,048-token context, random weights), prompts of 100-300 tokens and responses whose lengths
// have a long tail (most stop within a few hundred tokens, one in ten runs to the context
// limit), with the engine's default options (kv_cache_bytes 256 MiB), two ways in the same run:
//   paged     the engine as it is: blocks as sequences grow, so the tokens actually held bound
//             concurrency; preemption when the pool runs out;
//   reserved  the same engine capped at budget / (max_seq_len x bytes per token) sequences:
//             what the budget held when every sequence reserved its whole max_seq_len up front
//             (the scheme before paging).
// Reports useful (generated) tokens per second, peak concurrency and preemptions.
//
//   make bench BENCH=rollout_longtail
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_format.h"
#include "bench/rollout_bench_common.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "rollout/engine.h"

namespace ponder::bench {
namespace {

constexpr int kSamples = 64;

struct Run {
  Timing time;
  int64_t tokens = 0, steps = 0, peak_running = 0, preemptions = 0, peak_blocks = 0, blocks = 0;
  int64_t peak_bytes = 0;  // KV bytes held at the peak (blocks in use x block bytes)
};

// One PromptRequest per sample (each with its own length): prompts of 100-300 tokens;
// responses log-normal around 300 tokens, one in ten running to the context limit.
std::vector<rollout::PromptRequest> Workload(const model::ModelConfig& c) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> prompt_len(100, 300);
  std::lognormal_distribution<double> length(std::log(300.0), 0.6);
  rollout::SamplingOptions s;
  s.temperature = 1.0;
  std::vector<rollout::PromptRequest> out;
  for (int i = 0; i < kSamples; ++i) {
    const int p = prompt_len(rng);
    rollout::PromptRequest r = Prompts(1, p, static_cast<int>(c.vocab_size), s)[0];
    r.prompt_index = static_cast<uint64_t>(i);
    r.sampling.seed = static_cast<uint64_t>(i);
    const int limit = static_cast<int>(c.max_position_embeddings) - p;
    r.sampling.max_new_tokens =
        i % 10 == 3 ? limit : std::clamp(static_cast<int>(length(rng)), 16, limit);
    out.push_back(std::move(r));
  }
  return out;
}

Run Measure(const std::shared_ptr<model::DecoderImpl>& model,
            const std::vector<rollout::PromptRequest>& prompts, int64_t max_running) {
  rollout::EngineOptions o;
  o.max_running = max_running;
  std::unique_ptr<rollout::RolloutEngine> engine = OrDie(rollout::RolloutEngine::Create(model, o));
  rollout::GenerateRequest request;
  request.prompts = prompts;
  Run run;
  std::vector<rollout::Trajectory> out;
  run.time = Timed([&] { out = OrDie(engine->Generate(request)); });
  for (const rollout::Trajectory& t : out) run.tokens += static_cast<int64_t>(t.token_ids.size());
  const rollout::RolloutEngine::Counters c = engine->counters();
  run.steps = c.steps;
  run.peak_running = c.peak_running;
  run.preemptions = c.preemptions;
  run.peak_blocks = c.peak_kv_blocks;
  run.blocks = engine->kv_cache_blocks();
  run.peak_bytes = c.peak_kv_blocks * engine->kv_block_size() *
                   model::KvCache::BytesPerToken(model->config(), at::kFloat);
  return run;
}

int Main() {
  const int cores = static_cast<int>(PinCores(model::AvailableCores()).size());
  const model::ModelConfig config = Llama43M();
  torch::manual_seed(0);
  model::Decoder decoder(config);
  const std::vector<rollout::PromptRequest> prompts = Workload(config);
  std::vector<int64_t> lengths;
  int64_t prompt_tokens = 0;
  for (const auto& p : prompts) {
    lengths.push_back(p.sampling.max_new_tokens);
    prompt_tokens += static_cast<int64_t>(p.token_ids.size());
  }
  std::sort(lengths.begin(), lengths.end());
  const rollout::EngineOptions defaults;
  const int64_t per_sequence =
      model::KvCache::BytesPerToken(config, at::kFloat) * config.max_position_embeddings;
  const int64_t reserved_slots = defaults.kv_cache_bytes / per_sequence;
  std::cout << absl::StrFormat(
      "long-CoT rollouts: %d samples, prompts of 100-300 tokens (%d in all), responses median "
      "%d, mean %.0f, max %d tokens; %.1fM-parameter model, context %d; KV budget %d MiB "
      "(default); %d core(s)\n",
      kSamples, prompt_tokens, lengths[lengths.size() / 2],
      std::accumulate(lengths.begin(), lengths.end(), 0.0) / lengths.size(), lengths.back(),
      config.NumParameters() / 1e6, config.max_position_embeddings, defaults.kv_cache_bytes >> 20,
      cores);
  Measure(decoder.ptr(), std::vector<rollout::PromptRequest>(prompts.begin(), prompts.begin() + 4),
          0);  // warm-up
  const Run paged = Measure(decoder.ptr(), prompts, 0);
  const Run reserved = Measure(decoder.ptr(), prompts, reserved_slots);
  // Memory: the KV bytes the paged cache held at its peak, beside what the same number of
  // sequences would have reserved at max_seq_len each.
  std::cout << absl::StrFormat("%-10s %14s %9s %6s %7s %12s %12s %13s %17s %14s\n", "scheme",
                               "useful tokens", "seconds", "cores", "steps", "peak running",
                               "preemptions", "peak KV held", "reserving would", "useful tok/s");
  for (const auto& [name, r] : {std::pair<const char*, Run>{"paged", paged},
                                std::pair<const char*, Run>{"reserved", reserved}}) {
    std::cout << absl::StrFormat(
        "%-10s %14d %9.2f %6.2f %7d %12d %12d %9.1f MiB %13.1f MiB %14.0f\n", name, r.tokens,
        r.time.seconds, r.time.cores, r.steps, r.peak_running, r.preemptions,
        r.peak_bytes / 1048576.0, r.peak_running * per_sequence / 1048576.0,
        r.tokens / r.time.seconds);
  }
  std::cout << absl::StrFormat(
      "paged is %.2fx the reserved scheme's useful tokens/s (reserved: %d sequences of %d "
      "tokens fit the budget)\n",
      (paged.tokens / paged.time.seconds) / (reserved.tokens / reserved.time.seconds),
      reserved_slots, config.max_position_embeddings);
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
