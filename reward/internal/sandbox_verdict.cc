#include "reward/internal/sandbox_verdict.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ponder::reward::internal {
namespace {

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : absl::StrCat("signal ", sig);
}

// The last `n` bytes: where Python's traceback and C++'s terminate message end up.
absl::string_view Tail(const std::string& text, size_t n) {
  return text.size() <= n ? absl::string_view(text)
                          : absl::string_view(text).substr(text.size() - n);
}

}  // namespace

SandboxResult Classify(RunOutcome outcome, const VerdictFacts& facts,
                       const SandboxCommand& command) {
  SandboxResult r;
  r.stdout_text = std::move(outcome.out);
  r.stderr_text = std::move(outcome.err);
  r.output_truncated = outcome.truncated;
  r.wall_s = outcome.wall_s;
  r.cpu_s = facts.cpu_used_s;
  r.oom_kills = facts.oom_kills;
  r.stragglers = outcome.stragglers;

  if (!outcome.sandbox_error.empty()) {
    r.verdict = Verdict::kSandboxError;
    r.message = outcome.sandbox_error;
    return r;
  }
  if (!outcome.exec_error.empty()) {
    r.verdict = Verdict::kRuntimeError;
    r.message = absl::StrCat("cannot execute the command: ", outcome.exec_error);
    r.exit_code =
        outcome.exited && WIFEXITED(outcome.wait_status) ? WEXITSTATUS(outcome.wait_status) : -1;
    return r;
  }
  if (outcome.exited) {
    if (WIFEXITED(outcome.wait_status)) {
      r.exit_code = WEXITSTATUS(outcome.wait_status);
      // bwrap reports a program killed by signal N as exit status 128 + N.
      if (facts.exit_status_from_bwrap && r.exit_code > 128 && r.exit_code < 128 + 65) {
        r.signal = r.exit_code - 128;
      }
    } else if (WIFSIGNALED(outcome.wait_status)) {
      r.signal = WTERMSIG(outcome.wait_status);
    }
  }
  bool failed = r.signal != 0 || r.exit_code != 0;

  if (outcome.killed_for_output) {
    r.verdict = Verdict::kOutputLimit;
    r.message = absl::StrCat("stdout + stderr exceeded ", facts.output_cap, " bytes");
  } else if (facts.oom_kills > 0) {
    r.verdict = Verdict::kMemoryLimit;
    r.message = absl::StrCat("out of memory: the memory limit of ", command.limits.memory_mb,
                             " MiB was reached (", facts.oom_kills, " OOM kill",
                             facts.oom_kills > 1 ? "s" : "", ")");
  } else if (outcome.killed_for_deadline) {
    r.verdict = Verdict::kWallTimeout;
    r.message = absl::StrCat("wall-clock limit of ", command.limits.wall_s, " s exceeded");
  } else if (r.signal == SIGXCPU ||
             (r.signal == SIGKILL &&
              (facts.cpu_used_s >= 0 ? facts.cpu_used_s >= facts.cpu_limit_s - 0.05
                                     : outcome.wall_s >= facts.cpu_limit_s))) {
    r.verdict = Verdict::kCpuTimeout;
    r.message = absl::StrCat("CPU-time limit of ", facts.cpu_limit_s, " s exceeded");
  } else if (r.signal == SIGXFSZ ||
             (failed && absl::StrContains(Tail(r.stderr_text, 4096), "File too large"))) {
    r.verdict = Verdict::kFileSizeLimit;
    r.message = absl::StrCat("file-size limit of ", command.limits.file_size_mb, " MiB exceeded");
  } else if (failed && command.memory_errors_are_limits &&
             (absl::StrContains(Tail(r.stderr_text, 2048), "MemoryError") ||
              absl::StrContains(Tail(r.stderr_text, 2048), "std::bad_alloc"))) {
    r.verdict = Verdict::kMemoryLimit;
    r.message = absl::StrCat("out of memory: allocation failed (address-space limit ",
                             command.limits.address_space_mb, " MiB)");
  } else if (!failed && outcome.exited) {
    if (!command.success_marker.empty() &&
        !absl::StrContains(r.stdout_text, command.success_marker)) {
      r.verdict = Verdict::kRuntimeError;
      r.message = "exited with status 0 before the harness printed its success marker";
    } else {
      r.verdict = Verdict::kOk;
    }
  } else if (!outcome.exited) {
    r.verdict = Verdict::kSandboxError;
    r.message = "the program's exit status was lost";
  } else {
    r.verdict = Verdict::kRuntimeError;
    r.message = r.signal != 0 ? absl::StrCat("killed by ", SignalName(r.signal))
                              : absl::StrCat("exited with status ", r.exit_code);
  }
  return r;
}

}  // namespace ponder::reward::internal
