// `ponder train --config FILE [key=value ...]` and `ponder train --resume RUN_DIR [key=value ...]`:
// the RL job (trainer/controller.h). SIGINT or SIGTERM stops it after the current step, with a
// checkpoint (checkpoint.on_signal); the exit code is then 130.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "cli/commands.h"
#include "trainer/controller.h"
#include "trainer/job_config.h"

namespace ponder::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::string resume;
  std::vector<std::string> overrides;
};

int RunTrain(const TrainArgs& args) {
  absl::StatusOr<trainer::JobConfig> job;
  if (!args.resume.empty()) {
    // The run directory's own resolved config; run.dir follows the directory if it moved.
    std::vector<std::string> overrides = args.overrides;
    overrides.insert(overrides.begin(), "run.dir=" + args.resume);
    const std::string path = (std::filesystem::path(args.resume) / "config.yaml").string();
    job = trainer::LoadJobConfig(path, overrides);
  } else {
    job = trainer::LoadJobConfig(args.config, args.overrides);
  }
  if (!job.ok()) {
    std::cerr << job.status().message() << "\n";
    return 1;
  }
  if (absl::Status s = SetLogLevel(job->run.log_level); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }

  // Signals are turned into a stop request, handled between steps: block them in every thread
  // and wait for them in one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    const timespec tick{0, 200'000'000};
    while (!done.load()) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) {
        std::cerr << "ponder train: stopping after this step\n";
        stop = true;
      }
    }
  });

  int code = 0;
  trainer::ControllerOptions options;
  options.resume = !args.resume.empty();
  options.stop_requested = &stop;
  absl::StatusOr<std::unique_ptr<trainer::Controller>> controller =
      trainer::Controller::Create(*job, options);
  if (!controller.ok()) {
    std::cerr << controller.status().message() << "\n";
    code = 1;
  } else {
    absl::Status status = (*controller)->Run();
    if (absl::IsCancelled(status)) {
      std::cerr << "ponder train: " << status.message() << "; resume with: ponder train --resume "
                << job->run.dir << "\n";
      code = 130;
    } else if (!status.ok()) {
      std::cerr << status.message() << "\n";
      code = 1;
    }
  }
  done = true;
  waiter.join();
  return code;
}

}  // namespace

void AddTrainCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("train", "Run an RL training job");
  auto args = std::make_shared<TrainArgs>();
  CLI::Option* config = cmd->add_option("--config", args->config, "YAML job file");
  CLI::Option* resume = cmd->add_option(
      "--resume", args->resume, "continue the run in RUN_DIR from its newest complete checkpoint");
  config->excludes(resume);
  cmd->add_option("overrides", args->overrides, "dotted key=value overrides, e.g. trainer.lr=1e-5");
  cmd->callback([args, &exit_code] {
    if (args->config.empty() && args->resume.empty()) {
      throw CLI::ValidationError("train", "give --config FILE or --resume RUN_DIR");
    }
    exit_code = RunTrain(*args);
  });
}

}  // namespace ponder::cli
