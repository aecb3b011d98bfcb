// Subcommands of the `ponder` binary. Each Add*Command registers one subcommand on `app`;
// when it runs, it stores its process exit code in `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

namespace ponder::cli {

void AddConfigCommand(CLI::App& app, int& exit_code);
void AddRewardCommand(CLI::App& app, int& exit_code);
void AddVerifyCommand(CLI::App& app, int& exit_code);
void AddTokenizeCommand(CLI::App& app, int& exit_code);
void AddGenerateCommand(CLI::App& app, int& exit_code);
void AddRolloutCommand(CLI::App& app, int& exit_code);
void AddTrainCommand(CLI::App& app, int& exit_code);
void AddSftCommand(CLI::App& app, int& exit_code);
void AddEvalCommand(CLI::App& app, int& exit_code);
void AddDashboardCommand(CLI::App& app, int& exit_code);
void AddDemoCommand(CLI::App& app, int& exit_code);

}  // namespace ponder::cli
