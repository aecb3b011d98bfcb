// `ponder generate --model PATH [--tokenizer PATH] --prompt TEXT [--max-new-tokens N]
//  [--temperature T] [--top-p P] [--seed S] [--dtype D] [--device D]`: prints the generated
// text (only that) to stdout as it is produced.
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "model/generate.h"

namespace ponder::cli {

void AddGenerateCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate a continuation of a prompt with a model (greedy at temperature 0)");
  auto options = std::make_shared<model::GenerateOptions>();
  options->params.sampling.temperature = 1.0;
  options->params.sampling.top_p = 1.0;
  auto dtype = std::make_shared<std::string>("float32");
  cmd->add_option("--model", options->model.path,
                  "Hugging Face model folder or llama2.c .bin checkpoint")
      ->required();
  cmd->add_option("--tokenizer", options->model.tokenizer,
                  "tokenizer file or folder (default: the model folder, or tokenizer.bin beside "
                  "a .bin checkpoint)");
  cmd->add_option("--prompt", options->prompt, "text to continue (may be empty)")->required();
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
  cmd->add_option("--seed", options->params.seed, "seed of the sampler")->capture_default_str();
  cmd->add_option("--dtype", *dtype, "float32, bfloat16 or float16")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  cmd->add_option("--device", options->model.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([options, dtype, &exit_code] {
    options->model.dtype = *dtype == "bfloat16"  ? model::Precision::kBFloat16
                           : *dtype == "float16" ? model::Precision::kFloat16
                                                 : model::Precision::kFloat32;
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
