// `ponder generate --model PATH [--tokenizer PATH] --prompt TEXT [--max-new-tokens N]
//  [--temperature T] [--top-p P] [--top-k K] [--seed S] [--dtype D] [--device D]
//  [--threads N]`: prints the generated text (only that) to stdout as it is produced.
// --threads (default: every core the process may use) sets LibTorch's and OpenBLAS's threads
// alike (model/threads.h).
//
// Batch form, through the rollout engine (rollout/batch_generate.h):
// `ponder generate --model PATH --prompts FILE.jsonl --n K --output OUT.jsonl
//  [--stop TEXT]... [--max-seq-len N] [--kv-cache-mb M] [--chat-format F] ...`: one JSON line
// per sample in OUT.jsonl and final stats lines on stderr (tokens/s; peak concurrency and KV
// cache blocks).
//
// Both forms draw tokens with the one sampler (model/sampling.h): with the same prompt, seed
// and sampling options, `--prompt` prints the text of `--prompts`' first sample.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "model/generate.h"
#include "model/threads.h"
#include "rollout/batch_generate.h"

namespace ponder::cli {
namespace {

int RunBatch(const model::GenerateOptions& single, rollout::BatchGenerateOptions batch,
             int64_t kv_cache_mb) {
  if (batch.output_path.empty()) {
    std::cerr << "ponder generate: --prompts needs --output OUT.jsonl\n";
    return 2;
  }
  batch.model = single.model;
  batch.rollout.kv_cache_bytes = kv_cache_mb << 20;
  rollout::SamplingOptions& s = batch.rollout.sampling;
  s.max_new_tokens = single.params.max_new_tokens;
  s.temperature = single.params.sampling.temperature;
  s.top_p = single.params.sampling.top_p;
  s.top_k = single.params.sampling.top_k;
  s.seed = single.params.seed;
  absl::StatusOr<rollout::BatchGenerateStats> stats = rollout::GenerateBatch(batch);
  if (!stats.ok()) {
    std::cerr << "ponder generate: " << stats.status().message() << "\n";
    return 1;
  }
  std::fprintf(stderr,
               "ponder generate: %lld prompts, %lld samples, %lld tokens in %.2f s "
               "(%.0f tokens/s)\n",
               static_cast<long long>(stats->prompts), static_cast<long long>(stats->trajectories),
               static_cast<long long>(stats->generated_tokens), stats->seconds,
               stats->seconds > 0 ? stats->generated_tokens / stats->seconds : 0.0);
  std::fprintf(
      stderr,
      "ponder generate: peak %lld samples at once, KV cache peak %lld of %lld blocks "
      "(%lld tokens each), %lld preempted\n",
      static_cast<long long>(stats->peak_running), static_cast<long long>(stats->peak_kv_blocks),
      static_cast<long long>(stats->kv_cache_blocks), static_cast<long long>(stats->kv_block_size),
      static_cast<long long>(stats->preemptions));
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate a continuation of a prompt with a model (greedy at temperature 0)");
  auto options = std::make_shared<model::GenerateOptions>();
  options->params.sampling.temperature = 1.0;
  options->params.sampling.top_p = 1.0;
  auto dtype = std::make_shared<std::string>("float32");
  auto threads = std::make_shared<int>(0);
  cmd->add_option("--model", options->model.path,
                  "Hugging Face model folder or llama2.c .bin checkpoint")
      ->required();
  cmd->add_option("--tokenizer", options->model.tokenizer,
                  "tokenizer file or folder (default: the model folder, or tokenizer.bin beside "
                  "a .bin checkpoint)");
  CLI::Option* prompt =
      cmd->add_option("--prompt", options->prompt, "text to continue (may be empty)");
  auto batch = std::make_shared<rollout::BatchGenerateOptions>();
  auto kv_cache_mb = std::make_shared<int64_t>(batch->rollout.kv_cache_bytes >> 20);
  CLI::Option* prompts = cmd->add_option("--prompts", batch->prompts_path,
                                         "batch: a JSONL file of {\"prompt\": ...} or "
                                         "{\"messages\": [...]} lines")
                             ->excludes(prompt);
  cmd->add_option("--n", batch->n, "batch: samples per prompt")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(prompts);
  cmd->add_option("--output", batch->output_path, "batch: where to write one JSON line per sample")
      ->needs(prompts);
  cmd->add_option("--stop", batch->rollout.sampling.stop_strings,
                  "batch: a stop string (repeatable)")
      ->needs(prompts);
  cmd->add_option("--max-seq-len", batch->rollout.max_seq_len,
                  "batch: tokens per sequence, prompt + answer (0: the model's context)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(prompts);
  cmd->add_option("--kv-cache-mb", *kv_cache_mb,
                  "batch: KV cache budget in MiB (decides how many samples run at once)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(prompts);
  cmd->add_option("--chat-format", batch->chat.format,
                  "batch: chat template for \"messages\" lines: auto, chatml, llama2, plain")
      ->capture_default_str()
      ->needs(prompts);
  cmd->add_option("--max-new-tokens", options->params.max_new_tokens, "tokens to generate at most")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", options->params.sampling.temperature,
                  "sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", options->params.sampling.top_p, "nucleus sampling threshold")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--top-k", options->params.sampling.top_k,
                  "keep the k most likely tokens (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", options->params.seed, "seed of the sampler")->capture_default_str();
  cmd->add_option("--dtype", *dtype, "float32, bfloat16 or float16")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  cmd->add_option("--device", options->model.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", *threads, "compute threads (0: one per available core)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options, dtype, threads, batch, kv_cache_mb, prompt, prompts, &exit_code] {
    model::SetComputeThreads(*threads);
    options->model.dtype = *dtype == "bfloat16"  ? model::Precision::kBFloat16
                           : *dtype == "float16" ? model::Precision::kFloat16
                                                 : model::Precision::kFloat32;
    if (prompts->count() > 0) {
      exit_code = RunBatch(*options, *batch, *kv_cache_mb);
      return;
    }
    if (prompt->count() == 0) {
      std::cerr << "ponder generate: give --prompt TEXT, or --prompts FILE.jsonl --output "
                   "OUT.jsonl\n";
      exit_code = 2;
      return;
    }
    absl::Status status = model::GenerateText(*options, [](std::string_view text) {
      std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
      std::cout.flush();
    });
    if (!status.ok()) {
      std::cerr << "ponder generate: " << status.message() << "\n";
      exit_code = 1;
      return;
    }
    exit_code = 0;
  });
}

}  // namespace ponder::cli
