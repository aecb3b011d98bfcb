// `ponder train --config FILE [--auto-resume] [key=value ...]` and
// `ponder train --resume RUN_DIR [key=value ...]`: the RL job (trainer/controller.h).
// --auto-resume continues from run.dir's newest complete checkpoint when there is one, and
// starts afresh otherwise: the command a scheduler restarts after a failure. SIGINT or SIGTERM
// stops the job after the current step, with a checkpoint (checkpoint.on_signal); the exit
// code is then 130. When reward.token is empty, the token for the reward server comes from
// $PONDER_REWARD_TOKEN (as for `ponder reward`), so that it need not be on the command line.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "base/logging.h"
#include "cli/commands.h"
#include "monitor/dashboard.h"
#include "monitor/metrics_endpoint.h"
#include "trainer/checkpoint.h"
#include "trainer/controller.h"
#include "trainer/distributed_options.h"
#include "trainer/job_config.h"

namespace ponder::cli {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

// The first signal asks for a stop after the current step (with a checkpoint); a second one
// ends the process at once.
void OnStopSignal(int signal) {
  static const char kMessage[] = "ponder train: stopping after this step\n";
  if (g_stop.exchange(true)) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
}

struct TrainArgs {
  std::string config;
  std::string resume;
  bool auto_resume = false;
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
  if (job->reward.token.empty()) {
    if (const char* token = std::getenv("PONDER_REWARD_TOKEN"); token != nullptr) {
      job->reward.token = token;
    }
  }
  if (absl::Status s = SetLogLevel(job->run.log_level); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }

  // SIGINT and SIGTERM become a stop request, handled between steps. A handler (not a
  // blocked-signal waiter) so that the signal is caught whichever thread it lands on.
  g_stop = false;
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  struct sigaction old_int, old_term;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  // monitor.http: this run's dashboard and /metrics, served while it trains; by rank 0 alone
  // when the job has several trainer ranks (trainer/distributed_options.h).
  monitor::Registry registry;
  std::unique_ptr<monitor::HttpServer> server;
  std::unique_ptr<monitor::Dashboard> dashboard;
  const absl::StatusOr<trainer::RankEnv> rank = trainer::RankEnvFromEnvironment();
  if (job->monitor.http.has_value() && (!rank.ok() || rank->rank == 0)) {
    monitor::HttpOptions http = *job->monitor.http;
    http.token = monitor::TokenOrEnvironment(http.token);
    absl::StatusOr<std::unique_ptr<monitor::HttpServer>> created =
        monitor::HttpServer::Create(http);
    if (!created.ok()) {
      std::cerr << "monitor.http: " << created.status().message() << "\n";
      return 1;
    }
    server = std::move(*created);
    monitor::AddProcessMetrics(registry, "train");
    monitor::DashboardOptions dashboard_options;
    dashboard_options.runs = job->run.dir;
    dashboard_options.single_run = true;
    dashboard_options.registry = &registry;
    absl::StatusOr<std::unique_ptr<monitor::Dashboard>> made =
        monitor::Dashboard::Create(server.get(), dashboard_options);
    if (!made.ok()) {
      std::cerr << "monitor.http: " << made.status().message() << "\n";
      return 1;
    }
    dashboard = std::move(*made);
    server->Start();
    std::cerr << "ponder train: dashboard at " << server->url() << "/ (metrics at " << server->url()
              << "/metrics)" << std::endl;
  }

  int code = 0;
  trainer::ControllerOptions options;
  options.resume = !args.resume.empty();
  if (args.auto_resume) {
    absl::StatusOr<int64_t> latest = trainer::LatestValidCheckpoint(job->run.dir);
    options.resume = latest.ok();
    std::cerr << "ponder train: "
              << (latest.ok() ? "resuming from checkpoint step " + std::to_string(*latest)
                              : "no checkpoint in " + job->run.dir + "; starting afresh")
              << "\n";
  }
  options.stop_requested = &g_stop;
  if (server) options.metrics = &registry;
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
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (dashboard) dashboard->Stop();
  if (server) server->Stop();
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
  cmd->add_flag("--auto-resume", args->auto_resume,
                "with --config: continue from run.dir's newest checkpoint if it has one")
      ->excludes(resume);
  cmd->add_option("overrides", args->overrides, "dotted key=value overrides, e.g. trainer.lr=1e-5");
  cmd->callback([args, &exit_code] {
    if (args->config.empty() && args->resume.empty()) {
      throw CLI::ValidationError("train", "give --config FILE or --resume RUN_DIR");
    }
    exit_code = RunTrain(*args);
  });
}

}  // namespace ponder::cli
