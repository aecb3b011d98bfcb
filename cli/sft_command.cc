// `ponder sft --config FILE [key=value ...]`: supervised fine-tuning (trainer/sft.h); writes a
// Hugging Face folder that `ponder train` can start from. SIGINT or SIGTERM ends it after the
// current step as if that were the last (it evaluates and writes the model); the exit code is
// then 130.
#include <iostream>
#include <string>
#include <vector>

#include "base/logging.h"
#include "cli/commands.h"
#include "cli/stop_signal.h"
#include "trainer/job_config.h"
#include "trainer/sft.h"

namespace ponder::cli {

void AddSftCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("sft", "Supervised fine-tuning on demonstrations");
  auto config = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--config", *config, "YAML job file (sft:, model:, data:, ... sections)")
      ->required();
  cmd->add_option("overrides", *overrides, "dotted key=value overrides, e.g. sft.steps=100");
  cmd->callback([config, overrides, &exit_code] {
    absl::StatusOr<trainer::JobConfig> job = trainer::LoadJobConfig(*config, *overrides);
    if (!job.ok()) {
      std::cerr << job.status().message() << "\n";
      exit_code = 1;
      return;
    }
    if (absl::Status s = SetLogLevel(job->run.log_level); !s.ok()) {
      std::cerr << s.message() << "\n";
      exit_code = 1;
      return;
    }
    const StopOnSignal stop("ponder sft: stopping after this step\n");
    absl::StatusOr<trainer::SftResult> result =
        trainer::RunSft(*job, {.stop_requested = stop.flag()});
    if (!result.ok()) {
      std::cerr << result.status().message() << "\n";
      exit_code = 1;
      return;
    }
    std::cout << result->output << "\n";
    exit_code = stop.flag()->load() ? 130 : 0;
  });
}

}  // namespace ponder::cli
