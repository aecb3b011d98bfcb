// `ponder reward [--listen HOST:PORT] [--config FILE] [--token TOKEN] [--drain SECONDS]
// [key=value ...]`: a reward server (RewardService over gRPC) scoring with the job config's
// `reward:` section, until SIGINT or SIGTERM; it then answers NOT_SERVING to health probes for
// --drain seconds (or until a second signal) before it stops (cli/drain.h).
// It binds loopback unless told otherwise (--listen 0.0.0.0:PORT); the token comes from
// --token, else $PONDER_REWARD_TOKEN, else reward.token; reward.tls.cert and .key make it
// serve TLS (and reward.tls.ca makes it require client certificates signed by that CA).
#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/drain.h"
#include "monitor/metrics_endpoint.h"
#include "reward/reward.h"
#include "reward/reward_server.h"
#include "rpc/security.h"
#include "trainer/job_config.h"
#include "trainer/serving_metrics.h"

namespace ponder::cli {
namespace {

struct RewardArgs {
  std::string listen;
  std::string config;
  std::string token;
  int64_t threads = -1;
  double drain_s = 3;
  std::vector<std::string> overrides;
};

// The job config: from the job file when given, else the defaults; then overrides. The
// server uses its `reward:` and `monitor:` sections.
absl::StatusOr<trainer::JobConfig> LoadJob(const std::string& file,
                                           const std::vector<std::string>& overrides) {
  return file.empty() ? config::LoadString<trainer::JobConfig>("", "(defaults)", overrides)
                      : trainer::LoadJobConfig(file, overrides);
}

int Serve(const RewardArgs& args) {
  absl::StatusOr<trainer::JobConfig> job = LoadJob(args.config, args.overrides);
  if (!job.ok()) {
    std::cerr << job.status().message() << "\n";
    return 1;
  }
  reward::RewardOptions* options = &job->reward;
  if (args.threads >= 0) options->threads = args.threads;
  const std::string token = rpc::TokenFrom(args.token, "PONDER_REWARD_TOKEN", options->token);
  absl::StatusOr<std::string> listen = rpc::ListenAddress(args.listen);
  if (!listen.ok()) {
    std::cerr << "ponder reward: --listen: " << listen.status().message() << "\n";
    return 1;
  }
  if (!rpc::IsLoopbackAddress(*listen) && token.empty()) {
    std::cerr << "ponder reward: warning: serving " << *listen
              << " without a token: anyone who reaches it can use its sandbox (give --token "
                 "or $PONDER_REWARD_TOKEN)\n";
  }
  // Block SIGINT/SIGTERM before any thread starts, then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<reward::Reward>> built = reward::Reward::Create(*options);
  if (!built.ok()) {
    std::cerr << "cannot build the reward: " << built.status().message() << "\n";
    return 1;
  }
  std::shared_ptr<const reward::Reward> scorer(std::move(*built));
  reward::RewardServerOptions server_options;
  server_options.listen = *listen;
  server_options.token = token;
  // /metrics (monitor.http): RPCs, verifier latency and outcomes, the scoring queue.
  monitor::Registry registry;
  if (job->monitor.http.has_value()) {
    auto rpc = trainer::RpcMetrics(registry);
    server_options.on_call = [rpc](const char* method, absl::StatusCode code, double seconds) {
      rpc("RewardService", method, code, seconds);
    };
    server_options.on_item = trainer::RewardItemMetrics(registry);
  }
  server_options.tls = options->tls;
  absl::StatusOr<std::unique_ptr<reward::RewardServer>> server =
      reward::RewardServer::Start(server_options, scorer);
  if (!server.ok()) {
    std::cerr << server.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<monitor::HttpServer> metrics;
  if (job->monitor.http.has_value()) {
    reward::RewardServer* serving = server->get();
    monitor::Family<monitor::Gauge>& queue = registry.AddGauge(
        "ponder_reward_items_in_flight", "Items received and not yet scored (queue depth).");
    registry.AddCollector([serving, &queue] {
      queue.Labels({}).Set(static_cast<double>(serving->items_in_flight()));
    });
    absl::StatusOr<std::unique_ptr<monitor::HttpServer>> started =
        monitor::StartMetricsEndpoint(*job->monitor.http, &registry, "reward");
    if (!started.ok()) {
      std::cerr << started.status().message() << "\n";
      return 1;
    }
    metrics = std::move(*started);
  }
  std::cout << "ponder reward listening on " << (*server)->address()
            << (token.empty() ? "" : " (token required)") << std::endl;
  if (metrics)
    std::cout << "ponder reward: metrics at " << metrics->url() << "/metrics" << std::endl;
  reward::RewardServer* serving = server->get();
  const int signal = WaitForStop(signals, args.drain_s, "ponder reward",
                                 [serving](bool on) { serving->SetServing(on); });
  std::cout << "ponder reward: shutting down (signal " << signal << ")" << std::endl;
  if (metrics) metrics->Stop();
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}

}  // namespace

void AddRewardCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "reward", "Serve verifiers over gRPC (RewardService) for trainers and remote clients");
  auto args = std::make_shared<RewardArgs>();
  cmd->add_option("--listen", args->listen,
                  "HOST:PORT to listen on, or PORT alone for loopback (default 127.0.0.1:0: "
                  "loopback, any free port)");
  cmd->add_option("--config", args->config, "job YAML file; its `reward:` section is served");
  cmd->add_option("--token", args->token,
                  "shared secret clients must send (default: $PONDER_REWARD_TOKEN, then "
                  "reward.token)");
  cmd->add_option("--drain", args->drain_s,
                  "seconds between the first SIGINT/SIGTERM and the stop, answering NOT_SERVING "
                  "to health probes while calls in flight go on (default 3; a second signal stops "
                  "at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "scoring threads (default: reward.threads)");
  cmd->add_option("overrides", args->overrides,
                  "dotted key=value overrides, e.g. reward.timeout_s=10");
  cmd->callback([args, &exit_code] { exit_code = Serve(*args); });
}

}  // namespace ponder::cli
