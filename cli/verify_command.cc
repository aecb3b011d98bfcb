// `ponder verify --verifier NAME (--response TEXT --answer TEXT | --input FILE.jsonl)`: score
// responses with one verifier and print one JSON result per line, in input order:
//   {"score": 1.0, "correct": true, "details": {...}}
// An input line is {"response": ..., "ground_truth": ..., "metadata": {...}} (also "prompt",
// "data_source"). A line that cannot be scored prints {"score": null, "correct": null,
// "details": {}, "error": "..."} and the exit code is 2.
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"
#include "reward/reward.h"
#include "trainer/job_config.h"

namespace ponder::cli {
namespace {

struct VerifyArgs {
  std::string verifier;
  std::string options;
  std::string response;
  std::string answer;
  std::string answer_json;
  std::string input;
  std::string config;
  int64_t threads = 0;
  double timeout_s = 30;
};

struct RewardSection {
  reward::RewardOptions reward;
  void Bind(config::Binder& b) { b.Field("reward", reward); }
};

// The reward to score with: the job file's section when --config is given, else a reward made
// of the one verifier with --options.
absl::StatusOr<std::unique_ptr<reward::Reward>> BuildReward(const VerifyArgs& args) {
  reward::RewardOptions options;
  if (!args.config.empty()) {
    absl::StatusOr<trainer::JobConfig> job = trainer::LoadJobConfig(args.config);
    if (!job.ok()) return job.status();
    options = job->reward;
  } else {
    std::string yaml = absl::StrCat(
        "reward:\n  verifiers:\n    - name: ", nlohmann::json(args.verifier).dump(), "\n");
    if (!args.options.empty()) {
      absl::StrAppend(&yaml, "      options:\n");
      std::string line;
      for (char c : args.options + "\n") {
        if (c == '\n') {
          absl::StrAppend(&yaml, "        ", line, "\n");
          line.clear();
        } else {
          line += c;
        }
      }
    }
    absl::StatusOr<RewardSection> section = config::LoadString<RewardSection>(yaml, "--options");
    if (!section.ok()) return section.status();
    options = section->reward;
  }
  options.threads = args.threads;
  options.timeout_s = args.timeout_s;
  return reward::Reward::Create(options);
}

nlohmann::json ResultJson(const reward::ItemResult& item) {
  nlohmann::json out;
  if (!item.status.ok()) {
    out["score"] = nullptr;
    out["correct"] = nullptr;
    out["details"] = nlohmann::json::object();
    out["error"] = std::string(item.status.message());
    return out;
  }
  out["score"] = item.result.score;
  out["correct"] = item.result.correct ? nlohmann::json(*item.result.correct) : nlohmann::json();
  out["details"] = item.result.details;
  if (item.result.components.size() > 1) out["components"] = item.result.components;
  return out;
}

// Reads the JSONL input; a line that is not a usable object becomes an error result.
std::vector<std::pair<reward::VerifyInput, std::string>> ReadInputs(std::istream& in,
                                                                    const std::string& name) {
  std::vector<std::pair<reward::VerifyInput, std::string>> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    reward::VerifyInput input;
    std::string error;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      error = "not valid JSON";
    } else if (!j.is_object()) {
      error = "must be a JSON object";
    } else if (!j.contains("response") || !j["response"].is_string()) {
      error = "needs \"response\" (a string)";
    } else if (j.contains("metadata") && !j["metadata"].is_object()) {
      error = "\"metadata\" must be an object";
    } else {
      input.response = j["response"].get<std::string>();
      input.ground_truth = j.value("ground_truth", nlohmann::json());
      if (j.contains("metadata")) input.metadata = j["metadata"];
      if (j.contains("prompt") && j["prompt"].is_string()) input.prompt = j["prompt"];
      if (j.contains("data_source") && j["data_source"].is_string()) {
        input.data_source = j["data_source"];
      }
    }
    out.emplace_back(std::move(input),
                     error.empty() ? "" : absl::StrCat(name, ":", number, ": ", error));
  }
  return out;
}

int Verify(const VerifyArgs& args) {
  bool single = !args.response.empty() || !args.answer.empty() || !args.answer_json.empty();
  if (single == !args.input.empty()) {
    std::cerr << "give either --response with --answer (or --answer-json), or --input FILE\n";
    return 1;
  }
  std::vector<std::pair<reward::VerifyInput, std::string>> inputs;
  if (single) {
    reward::VerifyInput input;
    input.response = args.response;
    if (!args.answer_json.empty()) {
      input.ground_truth = nlohmann::json::parse(args.answer_json, nullptr, false);
      if (input.ground_truth.is_discarded()) {
        std::cerr << "--answer-json is not valid JSON\n";
        return 1;
      }
    } else {
      input.ground_truth = args.answer;
    }
    inputs.emplace_back(std::move(input), "");
  } else if (args.input == "-") {
    inputs = ReadInputs(std::cin, "stdin");
  } else {
    std::ifstream file(args.input);
    if (!file) {
      std::cerr << "cannot read --input file '" << args.input << "'\n";
      return 1;
    }
    inputs = ReadInputs(file, args.input);
  }
  absl::StatusOr<std::unique_ptr<reward::Reward>> scorer = BuildReward(args);
  if (!scorer.ok()) {
    std::cerr << scorer.status().message() << "\n";
    return 1;
  }
  std::vector<reward::VerifyInput> batch;
  for (const auto& [input, error] : inputs) {
    if (error.empty()) batch.push_back(input);
  }
  reward::BatchOptions options;
  options.verifier = args.config.empty() ? "" : args.verifier;
  absl::StatusOr<std::vector<reward::ItemResult>> results =
      (*scorer)->ScoreBatch(std::move(batch), options);
  if (!results.ok()) {
    std::cerr << results.status().message() << "\n";
    return 1;
  }
  int exit_code = 0;
  size_t next = 0;
  for (const auto& [input, error] : inputs) {
    reward::ItemResult item;
    if (!error.empty()) {
      item.status = absl::InvalidArgumentError(error);
    } else {
      item = (*results)[next++];
    }
    if (!item.status.ok()) exit_code = 2;
    std::cout << ResultJson(item).dump() << "\n";
  }
  std::cout.flush();
  return exit_code;
}

}  // namespace

void AddVerifyCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "verify", "Score responses with a verifier; one JSON result per line on stdout");
  auto args = std::make_shared<VerifyArgs>();
  cmd->add_option("--verifier", args->verifier, "verifier name (math, countdown, code, ...)")
      ->required();
  cmd->add_option("--options", args->options,
                  "the verifier's options as YAML, e.g. '{tail_chars: 300}'");
  cmd->add_option("--response", args->response, "the response text to score");
  cmd->add_option("--answer", args->answer, "the ground truth, as a string");
  cmd->add_option("--answer-json", args->answer_json, "the ground truth, as JSON (code tests ...)");
  cmd->add_option(
      "--input", args->input,
      "JSONL file ('-' for stdin): {\"response\", \"ground_truth\", \"metadata\"} per line");
  cmd->add_option(
      "--config", args->config,
      "job YAML file: use its `reward:` section (--verifier picks a configured verifier, "
      "or 'reward' for the whole reward)");
  cmd->add_option("--threads", args->threads, "scoring threads (0: one per core)")
      ->capture_default_str();
  cmd->add_option("--timeout", args->timeout_s, "seconds per item")->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = Verify(*args); });
}

}  // namespace ponder::cli
