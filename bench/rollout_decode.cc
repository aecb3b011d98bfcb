// Rollout decode throughput: the engine sampling N tokens for each of B prompts (temperature 1,
// behaviour log-probs kept) on a ~25M-parameter LLaMA-style model, beside the same work in
// PyTorch eager (bench/rollout_decode_baseline.py: transformers-style dynamic cache, and a
// preallocated static cache) on the same weights, with the same threads, in the same run.
// Also measures this machine's float32 GEMM rate and reports which fraction of it the engine
// reaches (useful FLOPs: every weight matrix and attention, per generated token).
//
//   make bench BENCH=rollout_decode     (PONDER_BENCH_THREADS=N pins the thread count)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <filesystem>

#include "absl/strings/str_format.h"
#include "bench/rollout_bench_common.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "rollout/engine.h"

namespace ponder::bench {
namespace {

namespace fs = std::filesystem;

// Best float32 GEMM rate (FLOP/s) for [m, k] x [k, n].
double GemmRate(int64_t m, int64_t k, int64_t n) {
  at::Tensor a = at::randn({m, k}), b = at::randn({k, n});
  at::mm(a, b);
  double best = 1e30;
  int reps = std::max<int64_t>(3, 20000000000LL / (2 * m * k * n + 1));
  reps = std::min(reps, 200);
  for (int r = 0; r < 5; ++r) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) at::mm(a, b);
    best = std::min(best, Seconds(start) / reps);
  }
  return 2.0 * m * k * n / best;
}

double Ours(const std::shared_ptr<model::DecoderImpl>& model, int batch, int prompt_len, int tokens,
            int repeats) {
  rollout::EngineOptions o;
  o.max_seq_len = prompt_len + tokens;
  o.max_running = batch;
  o.kv_cache_bytes = int64_t{4} << 30;
  std::unique_ptr<rollout::RolloutEngine> engine = OrDie(rollout::RolloutEngine::Create(model, o));
  rollout::SamplingOptions s;
  s.temperature = 1.0;
  s.max_new_tokens = 4;
  rollout::GenerateRequest warm;
  warm.prompts = Prompts(batch, prompt_len, static_cast<int>(model->config().vocab_size), s);
  OrDie(engine->Generate(warm));
  s.max_new_tokens = tokens;
  rollout::GenerateRequest request;
  request.prompts = Prompts(batch, prompt_len, static_cast<int>(model->config().vocab_size), s);
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::vector<rollout::Trajectory> out = OrDie(engine->Generate(request));
    best = std::min(best, Seconds(start));
    for (const rollout::Trajectory& t : out) {
      if (static_cast<int>(t.token_ids.size()) != tokens) {
        std::cerr << "a sample ended early\n";
        std::exit(1);
      }
    }
  }
  return static_cast<double>(batch) * tokens / best;
}

double Eager(const std::string& folder, const std::string& cache, int batch, int prompt_len,
             int tokens, int threads, int repeats) {
  nlohmann::json j = RunJson(absl::StrFormat(
      "/usr/bin/python3 %s/bench/rollout_decode_baseline.py --model %s --batch %d --tokens %d "
      "--prompt-len %d --threads %d --repeats %d --cache %s",
      SourceDir(), folder, batch, tokens, prompt_len, threads, repeats, cache));
  return j["tokens_per_s"];
}

int Main() {
  at::set_num_threads(BenchThreads());
  const int threads = at::get_num_threads();
  const int prompt_len = 16, tokens = 128;
  const model::ModelConfig config = Llama25M();
  torch::manual_seed(0);
  model::Decoder decoder(config);
  const std::string folder = (fs::temp_directory_path() / "ponder_bench_rollout_decode").string();
  if (absl::Status s = model::SaveHfFolder(decoder, folder); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  const double peak = GemmRate(1024, 1024, 1024);
  const double flops = FlopsPerToken(config, prompt_len + tokens / 2.0);
  std::cout << absl::StrFormat(
      "rollout decode: %.1fM-parameter LLaMA-style model, %d-token prompts, %d sampled tokens "
      "per row (temperature 1, log-probs kept), float32 CPU, %d thread(s)\n",
      config.NumParameters() / 1e6, prompt_len, tokens, threads);
  std::cout << absl::StrFormat(
      "machine GEMM rate (1024^3 float32): %.1f GFLOP/s; useful work %.1f MFLOP per token\n\n",
      peak / 1e9, flops / 1e6);
  std::cout << absl::StrFormat("%6s %12s %14s %14s %10s %10s %12s %14s\n", "batch", "ours tok/s",
                               "eager dynamic", "eager static", "vs dynamic", "vs static",
                               "ours GFLOP/s", "of GEMM peak");
  for (int batch : {1, 16, 64, 128}) {
    const int repeats = batch <= 16 ? 3 : 1;
    const double ours = Ours(decoder.ptr(), batch, prompt_len, tokens, repeats);
    const double dynamic = Eager(folder, "dynamic", batch, prompt_len, tokens, threads, repeats);
    const double fixed = Eager(folder, "static", batch, prompt_len, tokens, threads, repeats);
    std::cout << absl::StrFormat("%6d %12.0f %14.0f %14.0f %9.2fx %9.2fx %12.1f %13.0f%%\n", batch,
                                 ours, dynamic, fixed, ours / dynamic, ours / fixed,
                                 ours * flops / 1e9, 100 * ours * flops / peak);
    std::cout.flush();
  }
  std::cout << absl::StrFormat(
      "\nfor reference, the GEMM rate at a decode step's shape [batch x 512] x [512 x 1152]: ");
  for (int batch : {1, 16, 64, 128}) {
    std::cout << absl::StrFormat("%d: %.1f  ", batch, GemmRate(batch, 512, 1152) / 1e9);
  }
  std::cout << "GFLOP/s\n";
  fs::remove_all(folder);
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
