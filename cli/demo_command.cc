// `ponder demo [--minutes M] [--algorithm NAME] [--run-dir DIR] [--no-browser] [key=value ...]`:
// what `make demo` runs. A tiny model learns a built-in task on the CPU in three ordinary jobs
// (trainer/demo_report.h), each started as a `ponder` child process whose command line is
// printed, so that every figure can be reproduced by hand:
//   1. warm start: `ponder sft` on the task's demonstrations, stopped early;
//   2. RL: `ponder train` from the warm start, rewarded by the verifier;
//   3. control: `ponder sft` from the warm start, more of the same demonstrations;
// 2 and 3 side by side, one core each, until the time budget is spent. The job is
// configs/demo.yaml, built into the binary; `key=value` arguments override it. While it runs,
// this process serves the dashboard over the three runs (monitor/dashboard.h) at a printed
// loopback address; `ponder dashboard --runs DIR` reopens them afterwards.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/config.h"
#include "base/file.h"
#include "base/status.h"
#include "cli/commands.h"
#include "cli/demo_config.h"
#include "cli/stop_signal.h"
#include "monitor/dashboard.h"
#include "monitor/http_server.h"
#include "monitor/metrics.h"
#include "trainer/checkpoint.h"
#include "trainer/demo_report.h"
#include "trainer/eval_job.h"
#include "trainer/job_config.h"

namespace ponder::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct DemoArgs {
  double minutes = 10;
  std::string algorithm;
  std::string run_dir = "runs/demo";
  bool no_browser = false;
  int port = 8088;
  std::vector<std::string> overrides;
};

// Seconds the demo keeps for the final evaluation and for the jobs to stop.
constexpr double kReserveS = 25;
// The warm start ends by this share of the budget even below its target accuracy.
constexpr double kWarmStartShare = 0.35;
// The control continues the warm start's SFT: no new warm-up, no early stop, until stopped.
// It evaluates about as often (in time) as RL does every eval.every steps.
const std::vector<std::string> kControlOverrides = {"sft.steps=100000000", "sft.stop_at_accuracy=0",
                                                    "sft.lr_warmup_steps=0", "sft.eval_every=400"};
// The warm start checks its greedy accuracy often (sft.eval_every) to stop near its target: a
// greedy answer and one sample for half the held-out prompts keep that cheap.
const std::vector<std::string> kWarmStartOverrides = {"eval.k=1", "eval.max_prompts=200"};

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Clock_(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

// A `ponder` subcommand running as a child process, its output in a log file.
class Job {
 public:
  Job(std::string name, std::vector<std::string> args, std::string log)
      : name_(std::move(name)), args_(std::move(args)), log_(std::move(log)) {}

  std::string CommandLine() const { return absl::StrCat("ponder ", absl::StrJoin(args_, " ")); }

  // `one_core`: the job gets one core (LibTorch's threads come from run.threads; OpenBLAS
  // keeps a thread pool of its own, sized by this environment variable).
  absl::Status Start(bool one_core) {
    std::vector<std::string> argv = {"ponder"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!one_core || std::string(*e).rfind("OPENBLAS_NUM_THREADS=", 0) != 0) env.push_back(*e);
    }
    if (one_core) env.push_back("OPENBLAS_NUM_THREADS=1");
    std::vector<char*> raw_argv, raw_env;
    for (std::string& a : argv) raw_argv.push_back(a.data());
    raw_argv.push_back(nullptr);
    for (std::string& e : env) raw_env.push_back(e.data());
    raw_env.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) return absl::InternalError(absl::StrCat("cannot start the ", name_));
    if (pid_ == 0) {
      // A process group of its own: a Ctrl-C in the terminal reaches only the demo, which
      // then stops each job once (a second signal would end a job without saving).
      setpgid(0, 0);
      FILE* log = std::freopen(log_.c_str(), "w", stdout);
      if (log == nullptr || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(127);
      execve("/proc/self/exe", raw_argv.data(), raw_env.data());
      _exit(127);
    }
    return absl::OkStatus();
  }

  // Whether it has exited (its exit code in `code()`).
  bool Done() {
    if (exited_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  // Asks it to stop after its current step (it keeps its work, see `ponder train`/`sft`).
  void Stop() {
    if (!exited_) kill(pid_, SIGTERM);
  }
  void Wait() {
    while (!Done()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Exit 0 (finished) or 130 (stopped by Stop, work saved).
  absl::Status Result() const {
    if (code_ == 0 || code_ == 130) return absl::OkStatus();
    std::ifstream in(log_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    return absl::InternalError(
        absl::StrCat("the ", name_, " failed (exit code ", code_, "; log: ", log_, "):\n", text));
  }

 private:
  std::string name_;
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

// A job's held-out evaluations as they appear in its metrics.jsonl.
struct EvalWatch {
  EvalWatch(const std::string& run_dir, std::string set, int64_t k)
      : follower(run_dir + "/metrics.jsonl"), set(std::move(set)), k(k) {}

  trainer::MetricsFollower follower;
  std::string set;
  int64_t k;
  std::vector<trainer::EvalPoint> evals;
  int64_t last_step = 0;
  double recent_reward = -1;  // RL: mean training reward of the newest step

  // The evaluations that arrived since the last call.
  absl::StatusOr<std::vector<trainer::EvalPoint>> Poll() {
    absl::StatusOr<std::vector<trainer::MetricsLine>> lines = follower.Poll();
    if (!lines.ok()) return lines.status();
    std::vector<trainer::EvalPoint> fresh;
    for (const trainer::MetricsLine& line : *lines) {
      last_step = std::max(last_step, line.step);
      if (auto it = line.metrics.find("reward/score/mean"); it != line.metrics.end()) {
        recent_reward = it->second;
      }
      if (std::optional<trainer::EvalPoint> e = trainer::FindEval(line, set, k)) {
        evals.push_back(*e);
        fresh.push_back(*e);
      }
    }
    return fresh;
  }
};

// The dashboard over the demo's runs, served by this process on loopback while the demo runs.
struct DemoDashboard {
  std::unique_ptr<monitor::HttpServer> server;
  std::unique_ptr<monitor::Dashboard> dashboard;
  std::string url;  // the page, showing RL with the control overlaid

  ~DemoDashboard() {
    if (dashboard != nullptr) dashboard->Stop();
    if (server != nullptr) server->Stop();
  }
};

// Serves the runs under `dir` on `port`, or on any free port when that one is taken.
absl::StatusOr<std::unique_ptr<DemoDashboard>> ServeDashboard(const std::string& dir, int port) {
  monitor::HttpOptions http;
  http.port = port;
  absl::StatusOr<std::unique_ptr<monitor::HttpServer>> server = monitor::HttpServer::Create(http);
  if (!server.ok() && port != 0) {
    http.port = 0;
    server = monitor::HttpServer::Create(http);
  }
  if (!server.ok()) return server.status();
  auto out = std::make_unique<DemoDashboard>();
  out->server = *std::move(server);
  monitor::DashboardOptions options;
  options.runs = dir;
  absl::StatusOr<std::unique_ptr<monitor::Dashboard>> dashboard =
      monitor::Dashboard::Create(out->server.get(), options);
  if (!dashboard.ok()) return dashboard.status();
  out->dashboard = *std::move(dashboard);
  out->server->Start();
  out->url = absl::StrCat(out->server->url(), "/#run=rl&overlay=control");
  return out;
}

// Opens `url` with the desktop's browser (xdg-open), when there is a desktop; the browser is
// not waited for.
void OpenBrowser(const std::string& url) {
  if (std::getenv("DISPLAY") == nullptr && std::getenv("WAYLAND_DISPLAY") == nullptr) return;
  const pid_t child = fork();
  if (child == 0) {
    // The grandchild runs xdg-open, detached: the demo reaps only the child.
    if (fork() == 0) {
      setsid();
      std::freopen("/dev/null", "w", stdout);
      std::freopen("/dev/null", "w", stderr);
      execlp("xdg-open", "xdg-open", url.c_str(), static_cast<char*>(nullptr));
    }
    _exit(0);
  }
  if (child > 0) waitpid(child, nullptr, 0);
}

// The run directory must be new, empty, or an earlier demo's (whose phases are replaced).
absl::Status PrepareRunDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    if (!fs::exists(fs::path(dir) / "demo.yaml", ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--run-dir ", dir, " exists and is not an earlier demo's; choose another directory"));
    }
    for (const char* part :
         {"warmstart", "rl", "control", "warmstart.log", "rl.log", "control.log", "summary.txt"}) {
      fs::remove_all(fs::path(dir) / part, ec);
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

// RL was stopped between evaluations: evaluate its final checkpoint the same way and append
// the result to its metrics, so the run ends with an evaluation (in the files and on the
// dashboard) like a run that reached trainer.steps.
absl::StatusOr<trainer::EvalPoint> EvaluateFinalPolicy(trainer::JobConfig job,
                                                       const std::string& rl_dir,
                                                       const EvalWatch& watch) {
  const std::vector<int64_t> steps = trainer::ListCheckpoints(rl_dir);
  if (steps.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("RL wrote no checkpoint in ", rl_dir));
  }
  const int64_t step = steps.front();
  if (!watch.evals.empty() && watch.evals.back().step == step) return watch.evals.back();
  job.model.path = (fs::path(trainer::CheckpointDir(rl_dir, step)) / "policy").string();
  job.run.threads = 0;
  absl::StatusOr<trainer::EvalReport> report =
      trainer::EvaluateModel(job, "builtin:" + job.data.task.name);
  if (!report.ok()) return report.status();
  // Opened as a resumed run at `step`: every line so far is kept and the evaluation appended.
  absl::StatusOr<std::unique_ptr<monitor::RunDirSink>> sink =
      monitor::RunDirSink::Create(rl_dir, step);
  if (!sink.ok()) return sink.status();
  if (absl::Status s = (*sink)->Write(step, report->metrics); !s.ok()) return s;
  if (absl::Status s = (*sink)->WriteEvalSamples(step, report->samples); !s.ok()) return s;
  trainer::MetricsLine line{.step = step, .metrics = report->metrics};
  std::optional<trainer::EvalPoint> e = trainer::FindEval(line, watch.set, watch.k);
  if (!e) return absl::InternalError("the final evaluation has no mean@k");
  return *e;
}

// The task in words, for the summary.
std::string TaskInWords(const trainer::JobConfig& job) {
  const trainer::BuiltinTaskOptions& t = job.data.task;
  std::string levels = absl::StrJoin(t.levels, "/");
  std::string what = t.name == "arithmetic" ? absl::StrCat(levels, "-digit arithmetic (",
                                                           absl::StrJoin(t.operators, " "), ")")
                                            : absl::StrCat(t.name, " level ", levels);
  if (t.flawed_demonstrations > 0) {
    absl::StrAppend(&what, " from a teacher whose demonstrations are wrong for ",
                    absl::StrFormat("%.0f%%", 100 * t.flawed_demonstrations), " of the prompts (",
                    t.flaw == "carry" ? "it forgets carries" : "one wrong digit", ")");
  }
  return what;
}

absl::Status RunDemo(const DemoArgs& args) {
  const auto started = Clock::now();
  const double budget_s = args.minutes * 60;
  std::vector<std::string> overrides = args.overrides;
  if (!args.algorithm.empty()) overrides.push_back("algorithm.name=" + args.algorithm);
  absl::StatusOr<trainer::JobConfig> job =
      config::LoadString<trainer::JobConfig>(kDemoConfig, "configs/demo.yaml", overrides);
  if (!job.ok()) return job.status();
  if (job->data.task.name.empty()) {
    return absl::InvalidArgumentError("the demo needs a built-in task (data.task.name)");
  }
  const std::string dir = args.run_dir;
  if (absl::Status s = PrepareRunDir(dir); !s.ok()) return s;
  const std::string config = (fs::path(dir) / "demo.yaml").string();
  PONDER_RETURN_IF_ERROR(file::WriteFileAtomically(config, config::ToYaml(*job)));
  const std::string warm = (fs::path(dir) / "warmstart").string();
  const std::string rl_dir = (fs::path(dir) / "rl").string();
  const std::string control_dir = (fs::path(dir) / "control").string();
  const std::string warm_model = (fs::path(warm) / "final").string();
  const std::string set = job->data.task.name;
  const int64_t k = job->eval.k;

  std::printf("Ponder demo: %s\n", TaskInWords(*job).c_str());
  std::printf("budget %.1f min; run directory %s\n", args.minutes, dir.c_str());
  absl::StatusOr<std::unique_ptr<DemoDashboard>> dashboard = ServeDashboard(dir, args.port);
  if (!dashboard.ok()) return dashboard.status();
  std::printf(
      "dashboard: %s\n  (listening on 127.0.0.1:%d while the demo runs; afterwards: "
      "ponder dashboard --runs %s)\n",
      (*dashboard)->url.c_str(), (*dashboard)->server->port(), dir.c_str());
  std::fflush(stdout);
  if (!args.no_browser) OpenBrowser((*dashboard)->url);
  const StopOnSignal interrupted("ponder demo: stopping the jobs\n");

  // 1. Warm start.
  std::vector<std::string> warm_args = {"sft", "--config", config, "run.dir=" + warm};
  warm_args.insert(warm_args.end(), kWarmStartOverrides.begin(), kWarmStartOverrides.end());
  Job warm_job("warm start", warm_args, dir + "/warmstart.log");
  std::printf("\n[%s] 1. warm start: %s\n", Clock_(Since(started)).c_str(),
              warm_job.CommandLine().c_str());
  std::fflush(stdout);
  if (absl::Status s = warm_job.Start(/*one_core=*/false); !s.ok()) return s;
  EvalWatch warm_watch(warm, set, /*k=*/1);
  bool warm_stopped = false;
  while (!warm_job.Done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    absl::StatusOr<std::vector<trainer::EvalPoint>> fresh = warm_watch.Poll();
    if (!fresh.ok()) return fresh.status();
    for (const trainer::EvalPoint& e : *fresh) {
      std::printf("[%s]    SFT step %lld: held-out greedy accuracy %.1f%%\n",
                  Clock_(Since(started)).c_str(), static_cast<long long>(e.step), 100 * e.greedy);
      std::fflush(stdout);
    }
    if (!warm_stopped &&
        (Since(started) > kWarmStartShare * budget_s || interrupted.flag()->load())) {
      warm_job.Stop();
      warm_stopped = true;
    }
  }
  if (absl::Status s = warm_job.Result(); !s.ok()) return s;
  if (interrupted.flag()->load()) return absl::CancelledError("interrupted");
  const double warm_s = Since(started);

  // 2 and 3. RL and the control, side by side.
  const double side_s = budget_s - warm_s - kReserveS;
  if (side_s < 10) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--minutes %.1f leaves no time for RL after the warm start (%.0f s)",
                        args.minutes, warm_s));
  }
  // The summary's "before" is RL's evaluation at step 0; its "after" evaluates the checkpoint
  // RL writes when it is stopped.
  Job rl_job("RL run",
             {"train", "--config", config, "run.dir=" + rl_dir, "model.path=" + warm_model,
              "run.threads=1", "eval.before_train=true", "checkpoint.on_signal=true"},
             dir + "/rl.log");
  std::vector<std::string> control_args = {
      "sft",          "--config", config, "run.dir=" + control_dir, "model.path=" + warm_model,
      "run.threads=1"};
  control_args.insert(control_args.end(), kControlOverrides.begin(), kControlOverrides.end());
  Job control_job("control run", control_args, dir + "/control.log");
  std::printf("[%s] 2. RL (%s), %.1f min: %s\n", Clock_(Since(started)).c_str(),
              job->algorithm.name.c_str(), side_s / 60, rl_job.CommandLine().c_str());
  std::printf("[%s] 3. control beside it, %.1f min: %s\n", Clock_(Since(started)).c_str(),
              side_s / 60, control_job.CommandLine().c_str());
  std::fflush(stdout);
  const auto side_start = Clock::now();
  if (absl::Status s = rl_job.Start(/*one_core=*/true); !s.ok()) return s;
  if (absl::Status s = control_job.Start(/*one_core=*/true); !s.ok()) {
    rl_job.Stop();
    rl_job.Wait();
    return s;
  }
  EvalWatch rl_watch(rl_dir, set, k);
  EvalWatch control_watch(control_dir, set, k);
  bool stopping = false;
  while (!(rl_job.Done() && control_job.Done())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    absl::StatusOr<std::vector<trainer::EvalPoint>> rl_fresh = rl_watch.Poll();
    absl::StatusOr<std::vector<trainer::EvalPoint>> control_fresh = control_watch.Poll();
    if (!rl_fresh.ok() || !control_fresh.ok()) {
      rl_job.Stop();
      control_job.Stop();
      rl_job.Wait();
      control_job.Wait();
      return !rl_fresh.ok() ? rl_fresh.status() : control_fresh.status();
    }
    for (const trainer::EvalPoint& e : *rl_fresh) {
      std::string control =
          control_watch.evals.empty()
              ? "-"
              : absl::StrFormat("%.1f%% (step %lld)", 100 * control_watch.evals.back().mean_at_k,
                                static_cast<long long>(control_watch.evals.back().step));
      std::printf(
          "[%s]    RL step %lld: held-out mean@%lld %.1f%% (greedy %.1f%%, train reward %.2f)"
          " | control: %s\n",
          Clock_(Since(started)).c_str(), static_cast<long long>(e.step), static_cast<long long>(k),
          100 * e.mean_at_k, 100 * e.greedy, std::max(rl_watch.recent_reward, 0.0),
          control.c_str());
      std::fflush(stdout);
    }
    // A job that ends early (an error) ends the other one too.
    const bool one_done = rl_job.Done() || control_job.Done();
    if (!stopping && (Since(side_start) > side_s || interrupted.flag()->load() || one_done)) {
      rl_job.Stop();
      control_job.Stop();
      stopping = true;
    }
  }
  if (absl::Status s = rl_job.Result(); !s.ok()) return s;
  if (absl::Status s = control_job.Result(); !s.ok()) return s;
  const double side_actual_s = Since(side_start);
  // The files are complete now: the last evaluations.
  if (absl::Status s = rl_watch.Poll().status(); !s.ok()) return s;
  if (absl::Status s = control_watch.Poll().status(); !s.ok()) return s;
  if (rl_watch.evals.empty() || control_watch.evals.empty()) {
    return absl::InternalError("RL or the control ended before its first evaluation");
  }
  absl::StatusOr<trainer::EvalPoint> rl_final = EvaluateFinalPolicy(*job, rl_dir, rl_watch);
  if (!rl_final.ok()) return rl_final.status();

  trainer::DemoOutcome outcome;
  outcome.task = TaskInWords(*job);
  outcome.algorithm = job->algorithm.name;
  outcome.k = k;
  outcome.warm_start = rl_watch.evals.front();
  outcome.rl = *rl_final;
  outcome.control = control_watch.evals.back();
  outcome.rl_steps = rl_final->step;
  outcome.control_steps = control_watch.last_step;
  outcome.warm_start_s = warm_s;
  outcome.side_by_side_s = side_actual_s;
  outcome.total_s = Since(started);
  outcome.run_dir = dir;
  const std::string summary = trainer::DemoSummary(outcome);
  PONDER_RETURN_IF_ERROR(
      file::WriteFileAtomically((fs::path(dir) / "summary.txt").string(), summary));
  std::printf("%s", summary.c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace

void AddDemoCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "demo", "Watch RL with a verifier beat more SFT on a built-in task, in minutes on a CPU");
  auto args = std::make_shared<DemoArgs>();
  cmd->add_option("--minutes", args->minutes, "wall-time budget for the whole demo")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1000.0));
  cmd->add_option("--algorithm", args->algorithm,
                  "RL algorithm preset (algorithm.name; the demo is tuned for grpo)");
  cmd->add_option("--run-dir", args->run_dir, "where the three jobs write their runs")
      ->capture_default_str();
  cmd->add_flag("--no-browser", args->no_browser,
                "do not open the dashboard in the desktop's browser (xdg-open)");
  cmd->add_option("--port", args->port,
                  "loopback port of the live dashboard (0, or when taken: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("overrides", args->overrides,
                  "dotted key=value overrides of configs/demo.yaml, e.g. run.seed=2");
  cmd->callback([args, &exit_code] {
    absl::Status status = RunDemo(*args);
    if (!status.ok()) {
      std::cerr << "ponder demo: " << status.message() << "\n";
      exit_code = absl::IsCancelled(status) ? 130 : 1;
      return;
    }
    exit_code = 0;
  });
}

}  // namespace ponder::cli
