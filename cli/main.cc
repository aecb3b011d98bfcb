// The `ponder` binary: thin subcommands over the libraries.
#include <CLI/CLI.hpp>
#include <iostream>

#include "base/logging.h"
#include "cli/commands.h"
#include "cli/version.h"

int main(int argc, char** argv) {
  ponder::InitLogging();
  CLI::App app("Ponder: reinforcement-learning post-training for reasoning language models",
               "ponder");
  app.set_version_flag("--version", std::string("ponder ") + ponder::cli::kVersion);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.parse_complete_callback([&log_level] {
    absl::Status status = ponder::SetLogLevel(log_level);
    if (!status.ok()) throw CLI::ValidationError("--log-level", std::string(status.message()));
  });

  int exit_code = 0;
  ponder::cli::AddConfigCommand(app, exit_code);
  ponder::cli::AddRewardCommand(app, exit_code);
  ponder::cli::AddVerifyCommand(app, exit_code);
  ponder::cli::AddTokenizeCommand(app, exit_code);
  ponder::cli::AddGenerateCommand(app, exit_code);
  ponder::cli::AddRolloutCommand(app, exit_code);
  ponder::cli::AddTrainCommand(app, exit_code);
  ponder::cli::AddSftCommand(app, exit_code);
  ponder::cli::AddEvalCommand(app, exit_code);
  ponder::cli::AddDashboardCommand(app, exit_code);
  ponder::cli::AddDemoCommand(app, exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
