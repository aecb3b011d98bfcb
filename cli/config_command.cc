// `ponder config check FILE [key=value ...]`: load, validate, print the resolved config.
// `ponder config reference`: every key of a job file, generated from the code (Markdown).
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "trainer/config_reference.h"
#include "trainer/job_config.h"

namespace ponder::cli {

void AddConfigCommand(CLI::App& app, int& exit_code) {
  CLI::App* config = app.add_subcommand("config", "Inspect job config files");
  config->require_subcommand(1);

  CLI::App* check = config->add_subcommand(
      "check", "Load and validate a job config; print it fully resolved (defaults included)");
  auto file = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  check->add_option("file", *file, "YAML job file")->required();
  check->add_option("overrides", *overrides, "dotted key=value overrides, e.g. trainer.lr=1e-5");
  check->callback([file, overrides, &exit_code] {
    absl::StatusOr<trainer::JobConfig> job = trainer::LoadJobConfig(*file, *overrides);
    if (!job.ok()) {
      std::cerr << job.status().message() << "\n";
      exit_code = 1;
      return;
    }
    std::cout << config::ToYaml(*job);
    exit_code = 0;
  });

  CLI::App* reference = config->add_subcommand(
      "reference", "Print every job-file key with its type, default and rules (Markdown)");
  reference->callback([&exit_code] {
    std::cout << trainer::ConfigReference();
    exit_code = 0;
  });
}

}  // namespace ponder::cli
