// `code`: runs the program in the model's response against the sample's tests, in the code
// sandbox (reward/sandbox.h).
//
// The ground truth is described in reward/code_task.h: stdin/stdout cases, MBPP-style asserts
// (with optional setup code) or a HumanEval-style test with an entry point; Python runs under
// Debian's /usr/bin/python3, C++ is compiled with g++ inside the sandbox first. The program is
// the last fenced code block of the response (preferring one tagged with the language), or the
// whole response when it has none.
//
// Score: the fraction of tests passed, or 1/0 with `scoring: all_or_nothing`; `correct` is
// whether all passed. details.verdict is one of passed, wrong_answer, runtime_error, timeout,
// memory_limit, output_limit, compile_error, no_code, and names the first failing test. A
// failure of the sandbox itself is never scored: after `sandbox_retries` it is returned as an
// error (Unavailable), which the batch reports for that item only. A malformed ground truth
// is an InvalidArgument naming the field.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "reward/code_task.h"
#include "reward/sandbox.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct CodeOptions {
  std::string scoring = "fraction";  // fraction | all_or_nothing
  SandboxLimits limits;              // one run: a stdin/stdout case, or all the asserts
  SandboxLimits compile_limits = DefaultCompileLimits();
  std::string output_match = "lines";  // lines | tokens | exact (stdin/stdout cases)
  double float_tolerance = 0.0;        // tokens: numbers equal within this (abs, or relative)
  std::vector<std::string> cxx_flags = {"-std=gnu++17", "-O2", "-pipe"};
  int64_t max_program_kb = 256;  // longer programs are not run (verdict program_too_long)
  int64_t excerpt_chars = 1000;  // of inputs, outputs and errors in details
  int64_t sandbox_retries = 1;
  SandboxOptions sandbox;

  static SandboxLimits DefaultCompileLimits();
  void Bind(config::Binder& b);
};

class CodeVerifier : public Verifier {
 public:
  using Options = CodeOptions;
  // Starts (or shares, when another `code` verifier has the same sandbox options) the sandbox.
  static absl::StatusOr<std::unique_ptr<CodeVerifier>> Create(const Options& options);
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

  CodeSandbox& sandbox() const { return *sandbox_; }

 private:
  CodeVerifier(Options options, std::shared_ptr<CodeSandbox> sandbox);
  Options options_;
  OutputMatch match_;
  std::shared_ptr<CodeSandbox> sandbox_;
};

}  // namespace ponder::reward
