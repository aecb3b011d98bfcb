// `ponder dashboard --runs DIR [--host H] [--port P] [--token T]`: the web dashboard over a
// folder of run directories (or one run), live or finished. Serves until SIGINT or SIGTERM.
// The first line on stdout says where (useful with --port 0).
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "monitor/dashboard.h"
#include "monitor/http_server.h"

namespace ponder::cli {
namespace {

struct DashboardArgs {
  std::string runs;
  std::string host = "127.0.0.1";
  int port = 8088;
  std::string token;
  int poll_ms = 250;
};

int Serve(const DashboardArgs& args) {
  std::error_code ec;
  if (!std::filesystem::is_directory(args.runs, ec)) {
    std::cerr << "ponder dashboard: --runs " << args.runs << " is not a directory\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  monitor::HttpOptions http;
  http.host = args.host;
  http.port = args.port;
  http.token = args.token;
  if (http.token.empty()) {
    const char* env = std::getenv(monitor::kTokenEnv);
    if (env != nullptr) http.token = env;
  }
  absl::StatusOr<std::unique_ptr<monitor::HttpServer>> server = monitor::HttpServer::Create(http);
  if (!server.ok()) {
    std::cerr << "ponder dashboard: " << server.status().message() << "\n";
    return 1;
  }
  monitor::DashboardOptions options;
  options.runs = args.runs;
  options.poll_ms = args.poll_ms;
  absl::StatusOr<std::unique_ptr<monitor::Dashboard>> dashboard =
      monitor::Dashboard::Create(server->get(), options);
  if (!dashboard.ok()) {
    std::cerr << "ponder dashboard: " << dashboard.status().message() << "\n";
    return 1;
  }
  (*server)->Start();
  std::cout << "ponder dashboard: serving " << args.runs << " at " << (*server)->url() << "/"
            << (http.token.empty() ? "" : " (token required)") << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  std::cerr << "ponder dashboard: stopping (signal " << signal << ")\n";
  (*dashboard)->Stop();
  (*server)->Stop();
  return 0;
}

}  // namespace

void AddDashboardCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "dashboard", "Serve the web dashboard over a folder of run directories, live or finished");
  auto args = std::make_shared<DashboardArgs>();
  cmd->add_option("--runs", args->runs, "folder of run directories (or one run directory)")
      ->required();
  cmd->add_option("--host", args->host,
                  "address to listen on; other than loopback it needs a token")
      ->capture_default_str();
  cmd->add_option("--port", args->port, "port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--token", args->token,
                  "shared secret clients must send (default: $PONDER_MONITOR_TOKEN)");
  cmd->add_option("--poll-ms", args->poll_ms, "how often run directories are checked")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  cmd->callback([args, &exit_code] { exit_code = Serve(*args); });
}

}  // namespace ponder::cli
