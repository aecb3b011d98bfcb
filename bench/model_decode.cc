// Single-sequence decode speed: greedy generation of 256 tokens, one at a time through the KV
// cache, for llama2.c's stories260K and a ~25M-parameter LLaMA config, beside the same
// weights run by PyTorch eager from bench/model_decode_baseline.py (transformers-style eager
// decoding) in the same run, with the same number of threads. Also reports whether both
// produced the same greedy tokens.
//
//   make bench BENCH=model_decode          (PONDER_BENCH_THREADS=N to pin the thread count)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "model/checkpoint.h"
#include "model/generate.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
using model::Decoder;

std::string SourceDir() {
  const char* dir = std::getenv("PONDER_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

struct Result {
  double tokens_per_s = 0;
  std::vector<int32_t> ids;
};

Result RunOurs(Decoder& decoder, int tokens, int repeats) {
  model::GenerationParams params;
  params.max_new_tokens = tokens;
  params.sampling.temperature = 0;
  Result r;
  model::GenerateIds(*decoder, {1},
                     [&] {
                       model::GenerationParams warm = params;
                       warm.max_new_tokens = 8;
                       return warm;
                     }())
      .value();
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<int32_t>> ids = model::GenerateIds(*decoder, {1}, params);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!ids.ok()) {
      std::cerr << ids.status() << "\n";
      std::exit(1);
    }
    best = std::min(best, s);
    r.ids = *ids;
  }
  r.tokens_per_s = tokens / best;
  return r;
}

Result RunPython(const std::string& folder, int tokens, int repeats, int threads) {
  const std::string cmd = absl::StrFormat(
      "/usr/bin/python3 %s/bench/model_decode_baseline.py --model %s --tokens %d --threads %d "
      "--repeats %d",
      SourceDir(), folder, tokens, threads, repeats);
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  if (pipe == nullptr || pclose(pipe) != 0) {
    std::cerr << "baseline failed: " << cmd << "\n" << out << "\n";
    std::exit(1);
  }
  nlohmann::json j = nlohmann::json::parse(out);
  Result r;
  r.tokens_per_s = j["tokens_per_s"];
  r.ids = j["ids"].get<std::vector<int32_t>>();
  return r;
}

void Report(const std::string& name, Decoder& decoder, int tokens, int threads) {
  const std::string folder = (fs::temp_directory_path() / ("ponder_bench_" + name)).string();
  if (!model::SaveHfFolder(decoder, folder).ok()) {
    std::cerr << "cannot write " << folder << "\n";
    std::exit(1);
  }
  const int repeats = 3;
  Result ours = RunOurs(decoder, tokens, repeats);
  Result eager = RunPython(folder, tokens, repeats, threads);
  size_t same = 0;
  while (same < ours.ids.size() && same < eager.ids.size() && ours.ids[same] == eager.ids[same]) {
    ++same;
  }
  std::cout << absl::StrFormat(
      "%-14s %8.2fM %12.0f %16.0f %8.2fx   %zu/%d\n", name, decoder->config().NumParameters() / 1e6,
      ours.tokens_per_s, eager.tokens_per_s, ours.tokens_per_s / eager.tokens_per_s, same, tokens);
  fs::remove_all(folder);
}

int Main() {
  if (const char* t = std::getenv("PONDER_BENCH_THREADS")) at::set_num_threads(std::atoi(t));
  const int threads = at::get_num_threads();
  const int tokens = 256;
  std::cout << "single-sequence greedy decode, " << tokens << " new tokens from BOS, " << threads
            << " thread(s), float32 CPU; best of 3\n";
  std::cout << absl::StrFormat("%-14s %9s %12s %16s %9s   %s\n", "model", "params", "ours tok/s",
                               "pytorch eager", "speedup", "same greedy ids");

  model::ModelOptions stories;
  stories.path = SourceDir() + "/tests/data/model/stories260K/stories260K.bin";
  absl::StatusOr<Decoder> small = model::LoadModel(stories);
  if (!small.ok()) {
    std::cerr << small.status() << "\n";
    return 1;
  }
  Report("stories260K", *small, tokens, threads);

  // ~25M parameters: a LLaMA shape between stories15M and stories42M, random weights.
  model::ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 4096;
  c.hidden_size = 512;
  c.intermediate_size = 1152;
  c.num_layers = 8;
  c.num_heads = 8;
  c.num_kv_heads = 4;
  c.head_dim = 64;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  torch::manual_seed(0);
  Decoder medium(c);
  Report("llama-25M", medium, tokens, threads);
  return 0;
}

}  // namespace
}  // namespace ponder

int main() { return ponder::Main(); }
