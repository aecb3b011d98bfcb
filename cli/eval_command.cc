// `ponder eval --model PATH --data FILE|builtin:TASK [--k K] [--config FILE] [key=value ...]`:
// mean@k, pass@k, greedy accuracy and lengths of a model on a held-out set, printed as one
// JSON object; `--samples FILE` also writes every response with its score.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/logging.h"
#include "cli/commands.h"
#include "trainer/eval_job.h"
#include "trainer/job_config.h"

namespace ponder::cli {
namespace {

struct EvalArgs {
  std::string model;
  std::string tokenizer;
  std::string data;
  std::string config;
  std::string samples;
  int64_t k = 0;
  std::vector<std::string> overrides;
};

int RunEval(const EvalArgs& args) {
  std::vector<std::string> overrides = args.overrides;
  if (!args.model.empty()) overrides.push_back("model.path=" + args.model);
  if (!args.tokenizer.empty()) overrides.push_back("model.tokenizer=" + args.tokenizer);
  if (args.k > 0) overrides.push_back("eval.k=" + std::to_string(args.k));
  absl::StatusOr<trainer::JobConfig> job =
      args.config.empty() ? config::LoadString<trainer::JobConfig>("", "ponder eval", overrides)
                          : trainer::LoadJobConfig(args.config, overrides);
  if (!job.ok()) {
    std::cerr << job.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<trainer::EvalReport> report = trainer::EvaluateModel(*job, args.data);
  if (!report.ok()) {
    std::cerr << report.status().message() << "\n";
    return 1;
  }
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [name, value] : report->metrics) metrics[name] = value;
  std::cout << metrics.dump() << "\n";
  if (!args.samples.empty()) {
    std::ofstream out(args.samples, std::ios::trunc);
    for (const auto& sample : report->samples) out << monitor::ToJson(sample).dump() << "\n";
    if (!out) {
      std::cerr << "cannot write '" << args.samples << "'\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a model on held-out prompts");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("--model", args->model, "Hugging Face folder or llama2.c .bin (model.path)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer, when not in the model folder");
  cmd->add_option("--data", args->data, "JSONL file (data: row layout) or builtin:<task>")
      ->required();
  cmd->add_option("--k", args->k, "samples per prompt for mean@k and pass@k (eval.k)");
  cmd->add_option("--config", args->config,
                  "job file for the eval:, rollout:, reward:, data: and model: options");
  cmd->add_option("--samples", args->samples, "write every response and its score here (JSONL)");
  cmd->add_option("overrides", args->overrides, "dotted key=value overrides, e.g. eval.k=8");
  cmd->callback([args, &exit_code] { exit_code = RunEval(*args); });
}

}  // namespace ponder::cli
