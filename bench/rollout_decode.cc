// Rollout decode throughput on the ~43M-parameter LLaMA-style shape (GPT-2's 50,257-token
// vocabulary, a 2,048-token context; random weights): the engine with its default options
// sampling N tokens for each of B prompts (temperature 1, behaviour log-probs kept) beside the
// same work in PyTorch eager (bench/rollout_decode_baseline.py: preallocated cache, no copies)
// on the same weights. Both run on 1 core and on 2 (CPU affinity, LibTorch's and OpenBLAS's
// threads all set to the count; eager on 2 cores also with LibTorch at 1 thread beside
// OpenBLAS's 2, the faster kept), and each prints the cores it actually used (CPU time / wall
// time). Also the machine's float32 GEMM rate on the same cores, and the share of it that the
// engine's useful FLOPs (every weight matrix and attention, per generated token) reach.
//
//   make bench BENCH=rollout_decode     (PONDER_BENCH_CORES=1 runs only the 1-core half;
//                                        PONDER_BENCH_BATCHES=64 only that batch)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/rollout_bench_common.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "rollout/engine.h"

namespace ponder::bench {
namespace {

namespace fs = std::filesystem;

constexpr int kPromptLen = 16, kTokens = 64;

// Best float32 GEMM rate (FLOP/s) of LibTorch's matmul (OpenBLAS) for [m, k] x [k, n].
double GemmRate(int64_t m, int64_t k, int64_t n) {
  at::Tensor a = at::randn({m, k}), b = at::randn({k, n});
  at::mm(a, b);
  double best = 1e30;
  const int reps = static_cast<int>(std::clamp<int64_t>(20000000000LL / (2 * m * k * n), 3, 200));
  for (int r = 0; r < 5; ++r) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) at::mm(a, b);
    best = std::min(best, Seconds(start) / reps);
  }
  return 2.0 * m * k * n / best;
}

struct Figure {
  double tokens_per_s = 0;
  double cores = 0;
  int torch_threads = 0;  // eager: LibTorch's threads (OpenBLAS has one per core)
};

// The engine with default options (max_seq_len = the model's context, the default KV budget).
Figure Ours(const std::shared_ptr<model::DecoderImpl>& model, int batch, int repeats) {
  std::unique_ptr<rollout::RolloutEngine> engine =
      OrDie(rollout::RolloutEngine::Create(model, rollout::EngineOptions()));
  const int vocab = static_cast<int>(model->config().vocab_size);
  rollout::SamplingOptions s;
  s.temperature = 1.0;
  s.max_new_tokens = 4;
  rollout::GenerateRequest warm;
  warm.prompts = Prompts(batch, kPromptLen, vocab, s);
  OrDie(engine->Generate(warm));
  s.max_new_tokens = kTokens;
  rollout::GenerateRequest request;
  request.prompts = Prompts(batch, kPromptLen, vocab, s);
  Figure best;
  for (int r = 0; r < repeats; ++r) {
    std::vector<rollout::Trajectory> out;
    const Timing t = Timed([&] { out = OrDie(engine->Generate(request)); });
    for (const rollout::Trajectory& traj : out) {
      if (static_cast<int>(traj.token_ids.size()) != kTokens) {
        std::cerr << "a sample ended early\n";
        std::exit(1);
      }
    }
    const double rate = static_cast<double>(batch) * kTokens / t.seconds;
    if (rate > best.tokens_per_s) best = {rate, t.cores};
  }
  return best;
}

// Eager on `cores` cores at its best setting: LibTorch's threads = cores, or 1 beside
// OpenBLAS's `cores` threads (the two pools can fight over a small machine), the faster.
Figure Eager(const std::string& folder, int batch, int cores, int repeats) {
  Figure best;
  std::vector<int> settings = {cores};
  if (cores > 1) settings.push_back(1);
  for (int torch_threads : settings) {
    nlohmann::json j = RunJson(absl::StrFormat(
        "/usr/bin/python3 %s/bench/rollout_decode_baseline.py --model %s --batch %d --tokens %d "
        "--prompt-len %d --threads %d --torch-threads %d --repeats %d",
        SourceDir(), folder, batch, kTokens, kPromptLen, cores, torch_threads, repeats));
    const double rate = j["tokens_per_s"].get<double>();
    if (rate > best.tokens_per_s) best = {rate, j["cores_used"].get<double>(), torch_threads};
  }
  return best;
}

int Main() {
  const model::ModelConfig config = Llama43M();
  torch::manual_seed(0);
  model::Decoder decoder(config);
  const std::string folder = (fs::temp_directory_path() / "ponder_bench_rollout_decode").string();
  if (absl::Status s = model::SaveHfFolder(decoder, folder); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::vector<int> core_counts;
  const int available = model::AvailableCores();
  const int limit =
      std::getenv("PONDER_BENCH_CORES") ? std::atoi(std::getenv("PONDER_BENCH_CORES")) : 2;
  for (int n = 1; n <= std::min(available, limit); ++n) core_counts.push_back(n);
  const double flops = FlopsPerToken(config, kPromptLen + kTokens / 2.0);
  std::cout << absl::StrFormat(
      "rollout decode: %.1fM-parameter LLaMA-style model (vocab %d, context %d, random "
      "weights), %d-token prompts, %d sampled tokens per row (temperature 1, log-probs kept), "
      "float32 CPU; engine with default options; %.1f MFLOP of useful work per token\n",
      config.NumParameters() / 1e6, config.vocab_size, config.max_position_embeddings, kPromptLen,
      kTokens, flops / 1e6);
  std::vector<int> batches = {1, 16, 64, 128};
  if (const char* only = std::getenv("PONDER_BENCH_BATCHES")) {  // e.g. "64" or "16,64"
    batches.clear();
    for (absl::string_view b : absl::StrSplit(only, ','))
      batches.push_back(std::atoi(std::string(b).c_str()));
  }
  std::map<int, std::map<int, Figure>> ours, eager;  // [cores][batch]
  for (int n : core_counts) {
    const std::vector<int> cores = PinCores(n);
    const double peak = GemmRate(1024, 1024, 1024);
    std::cout << absl::StrFormat(
        "\n%d core(s) (ids %s; LibTorch and OpenBLAS threads %d); GEMM rate (OpenBLAS 1024^3 "
        "float32) %.1f GFLOP/s\n",
        n, absl::StrJoin(cores, ","), at::get_num_threads(), peak / 1e9);
    std::cout << absl::StrFormat("%6s %12s %6s %12s %6s %6s %9s %12s %9s\n", "batch", "ours tok/s",
                                 "cores", "eager tok/s", "cores", "torch", "ours/eager",
                                 "ours GFLOP/s", "of GEMM");
    for (int batch : batches) {
      const int repeats = batch <= 16 ? 3 : 2;
      const Figure o = Ours(decoder.ptr(), batch, repeats);
      const Figure e = Eager(folder, batch, n, repeats);
      ours[n][batch] = o;
      eager[n][batch] = e;
      std::cout << absl::StrFormat(
          "%6d %12.0f %6.2f %12.0f %6.2f %6d %8.2fx %12.1f %8.0f%%\n", batch, o.tokens_per_s,
          o.cores, e.tokens_per_s, e.cores, e.torch_threads, o.tokens_per_s / e.tokens_per_s,
          o.tokens_per_s * flops / 1e9, 100 * o.tokens_per_s * flops / peak);
      std::cout.flush();
    }
  }
  const int most = core_counts.back();
  std::cout << absl::StrFormat(
      "\nours on %d core(s) against eager's best (the fastest of its core counts and thread "
      "settings; in brackets: cores/LibTorch threads):\n",
      most);
  std::cout << absl::StrFormat("%6s %12s %16s %9s %20s %20s\n", "batch", "ours tok/s",
                               "eager best tok/s", "ratio", "ours 1->2 cores", "eager 1->2 cores");
  for (int batch : batches) {
    double best = 0;
    int best_cores = 0, best_threads = 0;
    for (int n : core_counts) {
      if (eager[n][batch].tokens_per_s > best) {
        best = eager[n][batch].tokens_per_s;
        best_cores = n;
        best_threads = eager[n][batch].torch_threads;
      }
    }
    std::string ours_scaling = "-", eager_scaling = "-";
    if (core_counts.size() >= 2) {
      ours_scaling =
          absl::StrFormat("%.2fx", ours[2][batch].tokens_per_s / ours[1][batch].tokens_per_s);
      eager_scaling =
          absl::StrFormat("%.2fx", eager[2][batch].tokens_per_s / eager[1][batch].tokens_per_s);
    }
    std::cout << absl::StrFormat("%6d %12.0f %10.0f (%d/%d) %8.2fx %20s %20s\n", batch,
                                 ours[most][batch].tokens_per_s, best, best_cores, best_threads,
                                 ours[most][batch].tokens_per_s / best, ours_scaling,
                                 eager_scaling);
  }
  PinCores(available);
  fs::remove_all(folder);
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
