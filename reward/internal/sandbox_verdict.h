// Turning what the supervisor saw into a verdict (docs/design/sandbox.md §6.2). A pure function,
// so that every rule has a unit test.
#pragma once

#include <cstdint>

#include "reward/internal/sandbox_launch.h"
#include "reward/sandbox.h"

namespace ponder::reward::internal {

struct VerdictFacts {
  // bwrap reports a program killed by signal N as exit status 128 + N (the Python fork server
  // and the other modes report the real wait status).
  bool exit_status_from_bwrap = true;
  double cpu_limit_s = 0;  // the RLIMIT_CPU soft limit
  double cpu_used_s = -1;  // from the cgroup, -1 when unknown
  int64_t oom_kills = -1;  // during this run, -1 when unknown
  int64_t output_cap = 0;
};

// Fills verdict, message, exit_code, signal and copies the outputs and timings.
SandboxResult Classify(RunOutcome outcome, const VerdictFacts& facts,
                       const SandboxCommand& command);

}  // namespace ponder::reward::internal
