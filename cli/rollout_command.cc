// `ponder rollout [--listen HOST:PORT] --model PATH [--tokenizer PATH] [--config FILE]
//  [--token TOKEN] [--drain SECONDS] [key=value ...]`: a rollout worker. Loads the model, starts
// the engine with the job's `rollout:` section and serves RolloutService until SIGINT or
// SIGTERM; it then answers NOT_SERVING to health probes for --drain seconds (or until a second
// signal) before it stops, so that trainers move their work elsewhere (cli/drain.h). The first
// line on stdout says where it listens (useful with port 0); with monitor.http set, the next
// says where /metrics is served. It binds loopback unless told otherwise (--listen
// 0.0.0.0:PORT); the token comes from --token, else $PONDER_ROLLOUT_TOKEN, else
// rollout.token; rollout.tls.cert and .key make it serve TLS (and rollout.tls.ca makes it
// require client certificates signed by that CA).
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/drain.h"
#include "model/threads.h"
#include "monitor/metrics_endpoint.h"
#include "rollout/engine.h"
#include "rollout/service.h"
#include "rpc/security.h"
#include "trainer/job_config.h"
#include "trainer/serving_metrics.h"
#include "trainer/worker_engine.h"

namespace ponder::cli {
namespace {

struct RolloutArgs {
  std::string listen;
  std::string token;
  std::string model;
  std::string tokenizer;
  std::string config;
  double drain_s = 3;
  std::vector<std::string> overrides;
};

int Serve(const RolloutArgs& args) {
  absl::StatusOr<trainer::JobConfig> job =
      args.config.empty()
          ? config::LoadString<trainer::JobConfig>("{}", "the command line", args.overrides)
          : trainer::LoadJobConfig(args.config, args.overrides);
  if (!job.ok()) {
    std::cerr << "ponder rollout: " << job.status().message() << "\n";
    return 1;
  }
  if (!args.model.empty()) job->model.path = args.model;
  if (!args.tokenizer.empty()) job->model.tokenizer = args.tokenizer;
  if (job->model.path.empty() && args.config.empty()) {
    std::cerr << "ponder rollout: no model: give --model PATH, or --config with model.path or "
                 "model.init\n";
    return 2;
  }
  model::SetComputeThreads(static_cast<int>(job->run.threads));
  // Signals go to sigwait below, not to the threads the engine and gRPC start.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<rollout::LoadedEngine> loaded = trainer::LoadWorkerEngine(*job);
  if (!loaded.ok()) {
    std::cerr << "ponder rollout: " << loaded.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> listen = rpc::ListenAddress(args.listen);
  if (!listen.ok()) {
    std::cerr << "ponder rollout: --listen: " << listen.status().message() << "\n";
    return 1;
  }
  rollout::ServerOptions server_options;
  server_options.listen = *listen;
  server_options.token = rpc::TokenFrom(args.token, "PONDER_ROLLOUT_TOKEN", job->rollout.token);
  server_options.tls = job->rollout.tls;
  if (!rpc::IsLoopbackAddress(*listen) && server_options.token.empty()) {
    std::cerr << "ponder rollout: warning: serving " << *listen
              << " without a token: anyone who reaches it can generate and replace the "
                 "weights (give --token or $PONDER_ROLLOUT_TOKEN)\n";
  }
  server_options.defaults = job->rollout.sampling;
  // /metrics (monitor.http): the engine's status, read at each scrape, and the RPCs.
  monitor::Registry registry;
  std::unique_ptr<monitor::HttpServer> metrics;
  if (job->monitor.http.has_value()) {
    trainer::AddRolloutMetrics(registry, loaded->engine.get());
    auto rpc = trainer::RpcMetrics(registry);
    server_options.on_call = [rpc](const char* method, absl::StatusCode code, double seconds) {
      rpc("RolloutService", method, code, seconds);
    };
    absl::StatusOr<std::unique_ptr<monitor::HttpServer>> started =
        monitor::StartMetricsEndpoint(*job->monitor.http, &registry, "rollout");
    if (!started.ok()) {
      std::cerr << "ponder rollout: " << started.status().message() << "\n";
      return 1;
    }
    metrics = std::move(*started);
  }
  absl::StatusOr<std::unique_ptr<rollout::RolloutServer>> server =
      rollout::RolloutServer::Start(loaded->engine.get(), server_options);
  if (!server.ok()) {
    std::cerr << "ponder rollout: " << server.status().message() << "\n";
    return 1;
  }
  std::cout << "ponder rollout: listening on " << (*server)->address() << " (model "
            << (job->model.path.empty() ? "model.init" : job->model.path) << ", "
            << loaded->engine->num_slots() << " sequences of " << loaded->engine->max_seq_len()
            << " tokens)" << std::endl;
  if (metrics)
    std::cout << "ponder rollout: metrics at " << metrics->url() << "/metrics" << std::endl;
  rollout::RolloutServer* serving = server->get();
  const int signal = WaitForStop(signals, args.drain_s, "ponder rollout",
                                 [serving](bool on) { serving->SetServing(on); });
  std::cerr << "ponder rollout: stopping (signal " << signal << ")\n";
  (*server)->Shutdown();
  server->reset();
  if (metrics) metrics->Stop();  // its scrapes read the engine
  loaded->engine.reset();
  return 0;
}

}  // namespace

void AddRolloutCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd =
      app.add_subcommand("rollout", "Serve a model as a rollout worker (RolloutService over gRPC)");
  auto args = std::make_shared<RolloutArgs>();
  cmd->add_option("--listen", args->listen,
                  "HOST:PORT to serve on, or PORT alone for loopback (default 127.0.0.1:0: "
                  "loopback, any free port)");
  cmd->add_option("--token", args->token,
                  "shared secret every call must carry (default: $PONDER_ROLLOUT_TOKEN, then "
                  "rollout.token)");
  cmd->add_option("--drain", args->drain_s,
                  "seconds between the first SIGINT/SIGTERM and the stop, answering NOT_SERVING "
                  "to health probes while calls in flight go on (default 3; a second signal stops "
                  "at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--model", args->model, "Hugging Face model folder or llama2.c .bin checkpoint");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer file or folder (default: the model folder)");
  cmd->add_option("--config", args->config,
                  "job YAML file; its model: and rollout: sections configure the worker");
  cmd->add_option("overrides", args->overrides,
                  "dotted key=value overrides, e.g. rollout.kv_cache_bytes=1073741824 "
                  "monitor.http.port=9101 (serves /metrics)");
  cmd->callback([args, &exit_code] { exit_code = Serve(*args); });
}

}  // namespace ponder::cli
