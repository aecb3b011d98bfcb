// Shared by the rollout benchmarks: the LLaMA-style configs (random weights), timing with the
// cores actually used, pinning to N cores, and running a Python baseline.
#pragma once

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "model/model_config.h"
#include "model/threads.h"
#include "rollout/rollout.h"

namespace ponder::bench {

inline std::string SourceDir() {
  const char* dir = std::getenv("PONDER_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

// Threads for LibTorch: $PONDER_BENCH_THREADS, else one per core of the machine (LibTorch's
// own default can be lower than that in VMs), for ours and the baseline alike.
inline int BenchThreads() {
  if (const char* t = std::getenv("PONDER_BENCH_THREADS")) return std::max(1, std::atoi(t));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// ~25M parameters: vocab 4096, 8 layers of width 512, 8 heads (4 KV heads), SwiGLU 1152.
inline model::ModelConfig Llama25M() {
  model::ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 4096;
  c.hidden_size = 512;
  c.intermediate_size = 1152;
  c.num_layers = 8;
  c.num_heads = 8;
  c.num_kv_heads = 4;
  c.head_dim = 64;
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 1e-5;
  return c;
}

// Multiply-adds x 2 per generated token at a context of `context` tokens: every weight matrix
// (the LM head included, the embedding lookup not) plus attention's q.k and p.v.
inline double FlopsPerToken(const model::ModelConfig& c, double context) {
  const double h = static_cast<double>(c.hidden_size), q = c.num_heads * c.head_dim,
               kv = c.num_kv_heads * c.head_dim;
  const double per_layer = h * q + 2 * h * kv + q * h + 3 * h * c.intermediate_size;
  const double matmul = c.num_layers * per_layer + h * c.vocab_size;
  const double attention = c.num_layers * 2.0 * q * context;
  return 2 * matmul + 2 * attention;
}

// ~43M parameters with GPT-2's vocabulary and a 2,048-token context: vocab 50,257 (tied
// embeddings), 8 layers of width 512, 8 heads (4 KV heads), SwiGLU 896.
inline model::ModelConfig Llama43M() {
  model::ModelConfig c = Llama25M();
  c.vocab_size = 50257;
  c.intermediate_size = 896;
  c.tie_word_embeddings = true;
  return c;
}

// Runs this process (every thread it has, and those it starts from now on) on the first `n`
// of the cores it was given, with LibTorch's and OpenBLAS's threads set to n. Returns the
// cores' ids.
inline std::vector<int> PinCores(int n) {
  static cpu_set_t all = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof(set), &set);
    return set;
  }();
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cores;
  for (int c = 0; c < CPU_SETSIZE && static_cast<int>(cores.size()) < n; ++c) {
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &set);
      cores.push_back(c);
    }
  }
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    sched_setaffinity(std::atoi(task.path().filename().c_str()), sizeof(set), &set);
  }
  model::SetComputeThreads(static_cast<int>(cores.size()));
  return cores;
}

// CPU time (user + system) of this process so far, in seconds.
inline double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Wall seconds and the cores used (CPU seconds / wall seconds) of a run.
struct Timing {
  double seconds = 0;
  double cores = 0;
};
template <typename F>
Timing Timed(F&& f) {
  const double cpu = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  f();
  Timing t;
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.cores = (CpuSeconds() - cpu) / t.seconds;
  return t;
}

inline double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs `command` (a Python baseline printing one JSON line) and parses its output.
inline nlohmann::json RunJson(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  if (pipe == nullptr || pclose(pipe) != 0) {
    std::cerr << "baseline failed: " << command << "\n" << out << "\n";
    std::exit(1);
  }
  return nlohmann::json::parse(out);
}

// `count` prompts of `length` tokens, different for each prompt.
inline std::vector<rollout::PromptRequest> Prompts(int count, int length, int vocab,
                                                   const rollout::SamplingOptions& sampling) {
  std::vector<rollout::PromptRequest> out;
  for (int b = 0; b < count; ++b) {
    rollout::PromptRequest p;
    p.prompt_index = static_cast<uint64_t>(b);
    for (int i = 0; i < length; ++i) p.token_ids.push_back((b * 7 + i * 13) % (vocab - 3) + 3);
    p.sampling = sampling;
    out.push_back(std::move(p));
  }
  return out;
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << value.status() << "\n";
    std::exit(1);
  }
  return std::move(*value);
}

}  // namespace ponder::bench
