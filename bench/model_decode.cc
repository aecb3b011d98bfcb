// Decode speed: greedy generation of 256 tokens, one at a time through the KV cache, for
// llama2.c's stories260K and a ~25M-parameter LLaMA config, beside the same weights run by
// PyTorch eager from bench/model_decode_baseline.py (transformers-style eager decoding) in the
// same run, with the same number of threads: single sequence (what `ponder generate` does),
// then a batch of equal-length rows. Also reports whether both produced the same greedy tokens.
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
#include "model/kv_cache.h"

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

// Greedy decoding of `batch` sequences at once, started from tokens 1, 2, ..., batch: one
// Step over all slots per token. Returns tokens/s over all rows and the ids of row 0.
Result RunOursBatched(Decoder& decoder, int tokens, int repeats, int batch) {
  auto once = [&](int n) {
    model::KvCacheOptions options;
    options.num_slots = batch;
    options.max_seq_len = n + 1;
    model::KvCache cache =
        model::KvCache::Create(decoder->config(), options, decoder->dtype(), decoder->device())
            .value();
    std::vector<int64_t> slots;
    std::vector<std::vector<int32_t>> next;
    for (int b = 0; b < batch; ++b) {
      slots.push_back(cache.Acquire().value());
      next.push_back({b + 1});
    }
    std::vector<int32_t> row0;
    for (int i = 0; i < n; ++i) {
      at::Tensor logits = decoder->Step(cache, slots, next).value();
      at::Tensor best = logits.argmax(-1).to(at::kInt).contiguous();
      for (int b = 0; b < batch; ++b) next[b] = {best.data_ptr<int32_t>()[b]};
      row0.push_back(next[0][0]);
    }
    return row0;
  };
  once(8);
  Result r;
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    r.ids = once(tokens);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  r.tokens_per_s = static_cast<double>(batch) * tokens / best;
  return r;
}

Result RunPython(const std::string& folder, int tokens, int repeats, int threads, int batch) {
  const std::string cmd = absl::StrFormat(
      "/usr/bin/python3 %s/bench/model_decode_baseline.py --model %s --tokens %d --threads %d "
      "--repeats %d --batch %d",
      SourceDir(), folder, tokens, threads, repeats, batch);
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

void Report(const std::string& name, Decoder& decoder, int tokens, int threads, int batch) {
  const std::string folder = (fs::temp_directory_path() / ("ponder_bench_" + name)).string();
  if (!model::SaveHfFolder(decoder, folder).ok()) {
    std::cerr << "cannot write " << folder << "\n";
    std::exit(1);
  }
  const int repeats = 3;
  Result ours = batch == 1 ? RunOurs(decoder, tokens, repeats)
                           : RunOursBatched(decoder, tokens, repeats, batch);
  Result eager = RunPython(folder, tokens, repeats, threads, batch);
  size_t same = 0;
  while (same < ours.ids.size() && same < eager.ids.size() && ours.ids[same] == eager.ids[same]) {
    ++same;
  }
  std::cout << absl::StrFormat("%-14s %8.2fM %6d %12.0f %16.0f %8.2fx   %zu/%d\n", name,
                               decoder->config().NumParameters() / 1e6, batch, ours.tokens_per_s,
                               eager.tokens_per_s, ours.tokens_per_s / eager.tokens_per_s, same,
                               tokens);
  fs::remove_all(folder);
}

int Main() {
  if (const char* t = std::getenv("PONDER_BENCH_THREADS")) at::set_num_threads(std::atoi(t));
  const int threads = at::get_num_threads();
  const int tokens = 256;
  std::cout << "greedy decode, " << tokens << " new tokens per row, " << threads
            << " thread(s), float32 CPU; best of 3\n";
  std::cout << absl::StrFormat("%-14s %9s %6s %12s %16s %9s   %s\n", "model", "params", "batch",
                               "ours tok/s", "pytorch eager", "speedup", "same greedy ids (row 0)");

  model::ModelOptions stories;
  stories.path = SourceDir() + "/tests/data/model/stories260K/stories260K.bin";
  absl::StatusOr<Decoder> small = model::LoadModel(stories);
  if (!small.ok()) {
    std::cerr << small.status() << "\n";
    return 1;
  }
  Report("stories260K", *small, tokens, threads, 1);

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
  Report("llama-25M", medium, tokens, threads, 1);
  // Batched rows (the rollout engine's regime; its own benchmark covers continuous batching).
  Report("stories260K", *small, tokens, threads, 32);
  Report("llama-25M", medium, tokens, threads, 16);
  return 0;
}

}  // namespace
}  // namespace ponder

int main() { return ponder::Main(); }
