#include "reward/code_verifier.h"

#include <signal.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/status.h"
#include "reward/code_harness.h"

namespace ponder::reward {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kCxx = "/usr/bin/g++";

// One `code` sandbox per distinct sandbox configuration in the process.
absl::StatusOr<std::shared_ptr<CodeSandbox>> SharedSandbox(const SandboxOptions& options) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache = new std::map<std::string, std::weak_ptr<CodeSandbox>>();
  std::string key = config::ToYaml(options);
  absl::MutexLock lock(&mu);
  if (std::shared_ptr<CodeSandbox> existing = (*cache)[key].lock()) return existing;
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<CodeSandbox> created, CodeSandbox::Create(options));
  std::shared_ptr<CodeSandbox> shared(std::move(created));
  (*cache)[key] = shared;
  return shared;
}

// The verdict of a test whose run ended with sandbox verdict `v` (not kOk).
std::string TestVerdict(Verdict v) {
  switch (v) {
    case Verdict::kWallTimeout:
    case Verdict::kCpuTimeout:
      return "timeout";
    case Verdict::kMemoryLimit:
      return "memory_limit";
    case Verdict::kOutputLimit:
      return "output_limit";
    case Verdict::kOk:
      return "passed";
    default:
      return "runtime_error";
  }
}

bool IsPythonSyntaxError(const SandboxResult& r) {
  if (r.exit_code != 1) return false;
  absl::string_view err = r.stderr_text;
  size_t last = err.find_last_not_of("\n");
  if (last == absl::string_view::npos) return false;
  size_t start = err.rfind('\n', last);
  size_t begin = start == absl::string_view::npos ? 0 : start + 1;
  absl::string_view line = err.substr(begin, last + 1 - begin);
  return absl::StartsWith(line, "SyntaxError") || absl::StartsWith(line, "IndentationError") ||
         absl::StartsWith(line, "TabError");
}

struct TestOutcome {
  std::string verdict = "not_run";
  std::string error;  // exception, assertion, or why it did not run
  std::string got;    // stdio: the program's stdout
};

// Everything learned from running one sample.
struct Evaluation {
  std::string sandbox_failure;       // set: nothing here is the program's doing
  std::string task_error;            // set: the ground truth's own code is broken
  bool deadline_hit = false;         // the caller's deadline passed before any run could start
  bool stopped_by_deadline = false;  // a run was cut (a timeout) by the caller's deadline
  std::vector<TestOutcome> tests;
  std::string compile_output;
  std::string failing_stderr;
  std::string failing_stdout;
  double sandbox_seconds = 0;
};

class Evaluator {
 public:
  Evaluator(const CodeOptions& options, OutputMatch match, const CodeTask& task,
            const std::string& program, absl::Time deadline)
      : options_(options), match_(match), task_(task), program_(program), deadline_(deadline) {
    limits_ = options.limits;
    if (task.timeout_s) limits_.wall_s = *task.timeout_s;
    if (task.memory_mb) limits_.memory_mb = *task.memory_mb;
  }

  Evaluation Run(CodeSandbox& sandbox) {
    eval_.tests.assign(task_.num_tests(), TestOutcome());
    absl::StatusOr<SandboxSession> session = sandbox.Acquire();
    if (!session.ok()) {
      eval_.sandbox_failure = std::string(session.status().message());
      return eval_;
    }
    session_ = &*session;
    if (task_.language == CodeLanguage::kCpp) {
      if (!CompileCpp()) return eval_;
      if (task_.style == CodeTestStyle::kStdio) {
        RunStdio({"./main"});
      } else {
        RunHarness({"./main"});
      }
    } else if (task_.style == CodeTestStyle::kStdio) {
      if (!Write("solution.py", program_)) return eval_;
      RunStdio({kPython, "solution.py"});
    } else {
      if (!Write("harness.py", kPythonHarness) ||
          !Write("task.txt", PythonTaskFile(task_, program_, nonce_))) {
        return eval_;
      }
      RunHarness({kPython, "-S", "harness.py"});
    }
    return eval_;
  }

 private:
  bool Write(const std::string& name, const std::string& content) {
    absl::Status s = session_->WriteFile(name, content);
    if (!s.ok()) eval_.sandbox_failure = std::string(s.message());
    return s.ok();
  }

  // Runs `command` with the remaining time of the caller's deadline as a cap.
  std::optional<SandboxResult> Execute(SandboxCommand command) {
    double left = absl::ToDoubleSeconds(deadline_ - absl::Now());
    bool capped = left < command.limits.wall_s;
    if (left <= 0.05) {
      // No time left to start: an error when nothing of the program has run yet, else the
      // tests not reached time out.
      if (!ran_) {
        eval_.deadline_hit = true;
      } else {
        eval_.stopped_by_deadline = true;
        FailAll("timeout", "not started: the item's deadline (reward.timeout_s) had passed");
      }
      return std::nullopt;
    }
    if (capped) command.limits.wall_s = left;
    absl::StatusOr<SandboxResult> r = session_->Run(command);
    if (!r.ok()) {
      eval_.sandbox_failure = std::string(r.status().message());
      return std::nullopt;
    }
    eval_.sandbox_seconds += r->wall_s;
    if (r->verdict == Verdict::kSandboxError) {
      eval_.sandbox_failure = r->message;
      return std::nullopt;
    }
    if (capped && r->verdict == Verdict::kWallTimeout) {
      // The program was still running when the caller's deadline came: a timeout, like one
      // of the task's own limit (score 0 for this test), not an error of the item.
      eval_.stopped_by_deadline = true;
      r->message = "still running at the item's deadline (reward.timeout_s)";
    }
    ran_ = true;
    return *std::move(r);
  }

  void NoteFailure(const SandboxResult& r) {
    if (eval_.failing_stderr.empty() && eval_.failing_stdout.empty()) {
      eval_.failing_stderr = r.stderr_text;
      eval_.failing_stdout = r.stdout_text;
    }
  }

  void FailAll(const std::string& verdict, const std::string& error) {
    for (TestOutcome& t : eval_.tests) {
      if (t.verdict == "not_run") {
        t.verdict = verdict;
        t.error = error;
      }
    }
  }

  bool CompileCpp() {
    std::string source = program_;
    if (task_.style != CodeTestStyle::kStdio) {
      absl::StatusOr<std::string> harnessed = CppTestSource(task_, program_, nonce_);
      if (!harnessed.ok()) {
        eval_.task_error = std::string(harnessed.status().message());
        return false;
      }
      source = *std::move(harnessed);
    }
    if (!Write("main.cc", source)) return false;
    SandboxCommand compile;
    compile.argv = {kCxx};
    for (const auto& flag : options_.cxx_flags) compile.argv.push_back(flag);
    compile.argv.insert(compile.argv.end(), {"-o", "main", "main.cc"});
    compile.limits = options_.compile_limits;
    compile.memory_errors_are_limits = false;
    std::optional<SandboxResult> r = Execute(compile);
    if (!r) return false;
    eval_.compile_output = r->stderr_text;
    if (r->verdict == Verdict::kOk) return true;
    std::string why = r->verdict == Verdict::kRuntimeError
                          ? "g++ rejected the program"
                          : absl::StrCat("compilation stopped: ", r->message);
    FailAll("compile_error", why);
    return false;
  }

  void RunStdio(const std::vector<std::string>& argv) {
    bool stop = false;
    for (size_t i = 0; i < task_.cases.size(); ++i) {
      TestOutcome& t = eval_.tests[i];
      if (stop) {
        t.error = "not run after an earlier failure";
        continue;  // stays "not_run"
      }
      SandboxCommand command;
      command.argv = argv;
      command.limits = limits_;
      command.stdin_data = task_.cases[i].stdin_data;
      std::optional<SandboxResult> r = Execute(command);
      if (!r) return;
      t.got = r->stdout_text;
      if (r->verdict == Verdict::kOk) {
        if (OutputsMatch(task_.cases[i].expected_stdout, r->stdout_text, match_,
                         options_.float_tolerance)) {
          t.verdict = "passed";
        } else {
          t.verdict = "wrong_answer";
          NoteFailure(*r);
        }
      } else if (task_.language == CodeLanguage::kPython && i == 0 && IsPythonSyntaxError(*r)) {
        NoteFailure(*r);
        FailAll("compile_error", "the program is not valid Python");
        return;
      } else {
        t.verdict = TestVerdict(r->verdict);
        t.error = r->message;
        NoteFailure(*r);
      }
      // A timeout would most likely repeat on every remaining case; all-or-nothing scoring
      // needs no more than the first failure.
      if (t.verdict == "timeout" || (t.verdict != "passed" && options_.scoring != "fraction")) {
        stop = true;
      }
    }
  }

  void RunHarness(const std::vector<std::string>& argv) {
    SandboxCommand command;
    command.argv = argv;
    command.limits = limits_;
    command.success_marker = DoneLine(nonce_);
    std::optional<SandboxResult> r = Execute(command);
    if (!r) return;
    HarnessReport report = ParseHarnessReport(r->stdout_text, nonce_, eval_.tests.size());
    if (!report.task_error.empty()) {
      eval_.task_error = report.task_error;
      return;
    }
    if (!report.program_error.empty()) {
      NoteFailure(*r);
      FailAll(report.program_syntax_error ? "compile_error" : "runtime_error",
              report.program_error);
      return;
    }
    bool failed = false;
    for (size_t i = 0; i < eval_.tests.size(); ++i) {
      const HarnessTest& h = report.tests[i];
      TestOutcome& t = eval_.tests[i];
      if (!h.reported) continue;
      t.error = h.error;
      if (h.ok) {
        t.verdict = "passed";
      } else if (h.kind == "assert" || h.kind == "not_plain") {
        t.verdict = "wrong_answer";
        failed = true;
      } else {
        t.verdict = absl::StrContains(h.error, "MemoryError") ? "memory_limit" : "runtime_error";
        failed = true;
      }
    }
    if (failed || r->verdict != Verdict::kOk) NoteFailure(*r);
    if (report.done) return;
    // The run ended before reporting every test: how it ended is the verdict of the rest.
    std::string verdict = TestVerdict(r->verdict);
    std::string why = r->message;
    if (r->verdict == Verdict::kOk || (r->verdict == Verdict::kRuntimeError && r->exit_code == 0)) {
      verdict = "runtime_error";
      why = "the program ended the process before the tests finished";
    } else if (task_.language == CodeLanguage::kCpp && r->signal == SIGABRT &&
               absl::StrContains(r->stderr_text, "Assertion")) {
      verdict = "wrong_answer";  // a C++ test's assert() failed
      why = "an assertion failed";
    }
    FailAll(verdict, why);
  }

  const CodeOptions& options_;
  OutputMatch match_;
  const CodeTask& task_;
  const std::string& program_;
  absl::Time deadline_;
  SandboxLimits limits_;
  std::string nonce_ = NewNonce();
  SandboxSession* session_ = nullptr;
  bool ran_ = false;  // a command has run
  Evaluation eval_;
};

}  // namespace

SandboxLimits CodeOptions::DefaultCompileLimits() {
  SandboxLimits limits;
  limits.wall_s = 30;
  limits.memory_mb = 1024;
  limits.address_space_mb = 0;  // cc1plus reserves large regions; the cgroup limits memory
  limits.processes = 32;
  return limits;
}

void CodeOptions::Bind(config::Binder& b) {
  b.Field("scoring", scoring)
      .Must(scoring == "fraction" || scoring == "all_or_nothing", "be fraction or all_or_nothing");
  b.Field("limits", limits);
  b.Field("compile_limits", compile_limits);
  b.Field("output_match", output_match)
      .Must(output_match == "lines" || output_match == "tokens" || output_match == "exact",
            "be lines, tokens or exact");
  b.Field("float_tolerance", float_tolerance).InRange(0.0, 1.0);
  b.Field("cxx_flags", cxx_flags);
  b.Field("max_program_kb", max_program_kb).AtLeast(1);
  b.Field("excerpt_chars", excerpt_chars).AtLeast(16);
  b.Field("sandbox_retries", sandbox_retries).InRange(0, 10);
  b.Field("sandbox", sandbox);
}

CodeVerifier::CodeVerifier(Options options, std::shared_ptr<CodeSandbox> sandbox)
    : options_(std::move(options)), sandbox_(std::move(sandbox)) {
  match_ = options_.output_match == "exact"    ? OutputMatch::kExact
           : options_.output_match == "tokens" ? OutputMatch::kTokens
                                               : OutputMatch::kLines;
}

absl::StatusOr<std::unique_ptr<CodeVerifier>> CodeVerifier::Create(const Options& options) {
  PONDER_RETURN_IF_ERROR(options.limits.Validate());
  PONDER_RETURN_IF_ERROR(options.compile_limits.Validate());
  PONDER_ASSIGN_OR_RETURN(std::shared_ptr<CodeSandbox> sandbox, SharedSandbox(options.sandbox));
  return std::unique_ptr<CodeVerifier>(new CodeVerifier(options, std::move(sandbox)));
}

absl::StatusOr<VerifyResult> CodeVerifier::Score(const VerifyInput& input) const {
  PONDER_ASSIGN_OR_RETURN(CodeTask task, ParseCodeTask(input.ground_truth));
  ExtractedProgram program = ExtractProgram(input.response, task.language);
  size_t n = task.num_tests();
  const size_t excerpt = static_cast<size_t>(options_.excerpt_chars);

  VerifyResult result;
  result.correct = false;
  nlohmann::json& details = result.details;
  details["language"] = CodeLanguageName(task.language);
  details["style"] = CodeTestStyleName(task.style);
  details["program_source"] = program.source;
  details["total"] = n;
  if (absl::StripAsciiWhitespace(program.code).empty()) {
    details["verdict"] = "no_code";
    details["passed"] = 0;
    return result;
  }
  if (program.code.size() > static_cast<size_t>(options_.max_program_kb) << 10) {
    details["verdict"] = "program_too_long";
    details["passed"] = 0;
    details["program_chars"] = program.code.size();
    return result;
  }

  Evaluation eval;
  for (int64_t attempt = 0;; ++attempt) {
    Evaluator evaluator(options_, match_, task, program.code, input.deadline);
    eval = evaluator.Run(*sandbox_);
    if (eval.sandbox_failure.empty() || attempt >= options_.sandbox_retries) break;
  }
  if (!eval.sandbox_failure.empty()) {
    return absl::UnavailableError(
        absl::StrCat("code sandbox failure (not the program's fault): ", eval.sandbox_failure));
  }
  if (eval.deadline_hit) {
    return absl::DeadlineExceededError(
        "the item's deadline passed before the code's tests finished");
  }
  if (!eval.task_error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("ground_truth: the test code itself fails: ",
                                                   Excerpt(eval.task_error, excerpt)));
  }

  size_t passed = 0;
  int first_failure = -1;
  nlohmann::json verdicts = nlohmann::json::array();
  for (size_t i = 0; i < eval.tests.size(); ++i) {
    const TestOutcome& t = eval.tests[i];
    if (t.verdict == "passed") {
      ++passed;
    } else if (first_failure < 0) {
      first_failure = static_cast<int>(i);
    }
    verdicts.push_back(t.verdict);
  }
  bool all = passed == n;
  result.correct = all;
  result.score = options_.scoring == "fraction" ? static_cast<double>(passed) / n : (all ? 1 : 0);
  details["passed"] = passed;
  details["verdict"] = all ? std::string("passed") : eval.tests[first_failure].verdict;
  if (n <= 100) details["tests"] = verdicts;
  details["sandbox_seconds"] = eval.sandbox_seconds;
  if (eval.stopped_by_deadline) details["stopped_by_deadline"] = true;
  if (first_failure >= 0) {
    const TestOutcome& t = eval.tests[first_failure];
    nlohmann::json failing;
    failing["index"] = first_failure;
    failing["verdict"] = t.verdict;
    if (!t.error.empty()) failing["error"] = Excerpt(t.error, excerpt);
    if (task.style == CodeTestStyle::kStdio) {
      failing["input"] = Excerpt(task.cases[first_failure].stdin_data, excerpt);
      failing["expected"] = Excerpt(task.cases[first_failure].expected_stdout, excerpt);
      failing["got"] = Excerpt(t.got, excerpt);
    } else if (task.style == CodeTestStyle::kAsserts) {
      failing["assert"] = Excerpt(task.asserts[first_failure], excerpt);
    }
    details["failing_test"] = std::move(failing);
    if (!eval.failing_stderr.empty()) details["stderr"] = Excerpt(eval.failing_stderr, excerpt);
  }
  if (!eval.compile_output.empty() && (first_failure >= 0 || eval.compile_output.size() < 200)) {
    details["compile_output"] = Excerpt(eval.compile_output, excerpt);
  }
  return result;
}

}  // namespace ponder::reward
