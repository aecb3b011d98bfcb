// Training throughput: one RL update step (forward with per-token log-probs and entropy,
// GRPO advantages, PPO clipped loss, backward, global-norm clipping, AdamW) on a
// ~25M-parameter LLaMA config, through trainer::Learner, beside the same step in PyTorch
// eager from bench/train_step_baseline.py -- same weights, same batch, same thread count, same
// run. Tokens/s counts real (unpadded) tokens.
//
// Two batches: `uniform` (8 rows of 32 prompt + 96 response tokens: no padding anywhere, so
// both sides do the same arithmetic) and `ragged` (an RL batch: 4 prompts of 16-48 tokens x 4
// samples with responses of 8-200 tokens). The eager baseline pads the batch to its longest
// row as a transformers collator does; the learner packs length-sorted micro-batches under its
// token budget, runs each prompt once for the samples of it that share a micro-batch
// (model.share_prompts) and runs the vocabulary head only on response positions.
//
// Each case also prints the first step's entropy, gradient norm and loss from both sides,
// which must agree (same computation on the same weights).
//
//   make bench BENCH=train_step     (PONDER_BENCH_THREADS=N to pin the thread count)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/wait.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "trainer/decoder_policy.h"
#include "trainer/learner.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* dir = std::getenv("PONDER_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << what << "\n";
  std::exit(1);
}

model::ModelConfig Llama25M() {  // the LLaMA shape of bench_model_decode
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
  return c;
}

struct Shape {
  const char* name;
  int64_t groups, per_group;
  int64_t prompt_min, prompt_max, response_min, response_max;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// bench/train_step_baseline.py, spoken to line by line.
class Baseline {
 public:
  explicit Baseline(const std::string& args) {
    int to[2], from[2];
    if (::pipe(to) != 0 || ::pipe(from) != 0) Die("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) Die("fork failed");
    if (pid_ == 0) {
      ::dup2(to[0], 0);
      ::dup2(from[1], 1);
      ::close(to[1]);
      ::close(from[0]);
      ::execl("/bin/sh", "sh", "-c", ("exec /usr/bin/python3 " + args).c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    in_ = ::fdopen(to[1], "w");
    out_ = ::fdopen(from[0], "r");
    command_ = args;
  }
  std::string ReadLine() {
    std::string line;
    for (int c; (c = std::fgetc(out_)) != EOF && c != '\n';) line.push_back(static_cast<char>(c));
    if (line.empty()) Die("the baseline stopped: python3 " + command_);
    return line;
  }
  void WriteLine(const std::string& line) {
    std::fputs((line + "\n").c_str(), in_);
    std::fflush(in_);
  }
  void Close() {
    std::fclose(in_);  // the baseline ends at end of input
    std::fclose(out_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

 private:
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
  std::string command_;
};

void RunCase(const Shape& shape, int threads, int steps) {
  const model::ModelConfig c = Llama25M();
  torch::manual_seed(0);
  model::Decoder decoder(c);
  const std::string folder =
      (fs::temp_directory_path() / (std::string("ponder_bench_train_step_") + shape.name)).string();
  if (absl::Status s = model::SaveHfFolder(decoder, folder); !s.ok()) Die(s.ToString());

  std::mt19937_64 rng(7);
  auto uniform = [&rng](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  std::vector<trainer::Trajectory> batch;
  nlohmann::json rows = nlohmann::json::array(), prompt_lens = nlohmann::json::array(),
                 scores = nlohmann::json::array(), groups = nlohmann::json::array();
  const float behaviour = -8.0f;
  int64_t real_tokens = 0;
  for (int64_t g = 0; g < shape.groups; ++g) {
    std::vector<int32_t> prompt(uniform(shape.prompt_min, shape.prompt_max));
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % c.vocab_size);
    for (int64_t k = 0; k < shape.per_group; ++k) {
      trainer::Trajectory t;
      t.prompt_ids = prompt;
      t.response_ids.resize(uniform(shape.response_min, shape.response_max));
      for (auto& id : t.response_ids) id = static_cast<int32_t>(rng() % c.vocab_size);
      t.behaviour_log_probs.assign(t.response_ids.size(), behaviour);
      t.score = static_cast<double>(rng() % 2);
      t.group = g;
      std::vector<int32_t> row = t.prompt_ids;
      row.insert(row.end(), t.response_ids.begin(), t.response_ids.end());
      real_tokens += static_cast<int64_t>(row.size());
      rows.push_back(row);
      prompt_lens.push_back(t.prompt_ids.size());
      scores.push_back(t.score);
      groups.push_back(g);
      batch.push_back(std::move(t));
    }
  }
  trainer::AlgorithmOptions algo = *trainer::AlgorithmPreset("grpo");
  algo.use_kl_loss = false;
  trainer::TrainerOptions opts;
  opts.lr = 1e-5;
  opts.grad_clip = 1.0;
  opts.recompute_logprobs = false;  // the timed step is the update itself
  opts.max_tokens_per_micro_batch = 2048;
  const std::string batch_file = folder + "/batch.json";
  std::ofstream(batch_file) << nlohmann::json{{"tokens", rows},
                                              {"prompt_lens", prompt_lens},
                                              {"scores", scores},
                                              {"groups", groups},
                                              {"behaviour_log_prob", behaviour},
                                              {"hyper",
                                               {{"lr", opts.lr},
                                                {"weight_decay", opts.weight_decay},
                                                {"grad_clip", opts.grad_clip},
                                                {"clip_low", algo.clip_ratio_low},
                                                {"clip_high", algo.clip_ratio_high},
                                                {"clip_c", algo.clip_ratio_c}}}};

  trainer::DecoderPolicy policy(decoder);
  auto learner = trainer::Learner::Create(algo, opts, {}, &policy, nullptr, nullptr);
  if (!learner.ok()) Die(learner.status().ToString());
  auto first = (*learner)->Step(batch, 0);  // warm-up, also the check
  if (!first.ok()) Die(first.status().ToString());

  // The eager baseline runs beside us and takes its steps in turn with ours, so that both see
  // the same machine (a shared host's speed drifts over a minute).
  Baseline eager(
      absl::StrFormat("%s/bench/train_step_baseline.py --model %s --batch %s --threads %d",
                      SourceDir(), folder, batch_file, threads));
  const nlohmann::json header = nlohmann::json::parse(eager.ReadLine());
  if (header["tokens"].get<int64_t>() != real_tokens) Die("baseline saw a different batch");
  std::vector<double> seconds, eager_seconds;
  for (int s = 0; s < steps; ++s) {
    auto start = std::chrono::steady_clock::now();
    auto out = (*learner)->Step(batch, 1 + s);
    if (!out.ok()) Die(out.status().ToString());
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    eager.WriteLine("step");
    eager_seconds.push_back(std::stod(eager.ReadLine()));
  }
  eager.Close();
  fs::remove_all(folder);

  const double tokens = static_cast<double>(real_tokens);
  const double best = *std::min_element(seconds.begin(), seconds.end());
  const double eager_best = *std::min_element(eager_seconds.begin(), eager_seconds.end());
  const double median = Median(seconds), eager_median = Median(eager_seconds);
  std::cout << absl::StrFormat("%-8s %6ld %8ld %10.0f %10.0f %7.2fx %10.0f %10.0f %7.2fx\n",
                               shape.name, real_tokens, header["padded_tokens"].get<int64_t>(),
                               tokens / best, tokens / eager_best, eager_best / best,
                               tokens / median, tokens / eager_median, eager_median / median);
  const nlohmann::json& e = header["first"];
  const auto& m = first->metrics;
  std::cout << absl::StrFormat(
      "         check, first step (ours / eager): entropy %.6f / %.6f, grad norm %.6f / %.6f, "
      "loss %.6f / %.6f\n",
      m.at("actor/entropy"), e["entropy"].get<double>(), m.at("actor/grad_norm"),
      e["grad_norm"].get<double>(), m.at("actor/pg_loss"), e["pg_loss"].get<double>());
}

int Main() {
  if (const char* t = std::getenv("PONDER_BENCH_THREADS")) at::set_num_threads(std::atoi(t));
  const int threads = at::get_num_threads();
  const int steps = 8;
  std::cout << absl::StrFormat(
      "RL training step (forward + backward + AdamW), llama %.2fM params, %d thread(s), "
      "float32 CPU; %d steps after a warm-up, ours and eager's in turn; tokens/s of real tokens\n",
      Llama25M().NumParameters() / 1e6, threads, steps);
  std::cout << absl::StrFormat("%-8s %6s %8s %10s %10s %8s %10s %10s %8s\n", "batch", "tokens",
                               "padded", "ours best", "eager best", "speedup", "ours med",
                               "eager med", "speedup");
  RunCase({"uniform", 2, 4, 32, 32, 96, 96}, threads, steps);
  RunCase({"ragged", 4, 4, 16, 48, 8, 200}, threads, steps);
  return 0;
}

}  // namespace
}  // namespace ponder

int main() { return ponder::Main(); }
