// The programs that run a sample's tests inside the sandbox (asserts and HumanEval styles),
// and reading their reports.
//
// A harness runs the model's program, then each test, and reports every result as one line
// on stdout: "<nonce> test <i> ok", "<nonce> test <i> assert|not_plain|error <hex message>",
// "<nonce> program syntax|error <hex>", "<nonce> task <hex>", and last "<nonce> done". The nonce is
// fresh for every run and reaches the harness in a file that is deleted before the program runs, so
// a program that exits early (sys.exit(0) at import time) or prints a success message passes
// nothing. The Python harness also gives the tests pristine builtins, and requires every value an
// assert compares or tests to be plain data (numbers, strings, bytes, None and the standard
// containers of them, checked by exact type), so an object whose __eq__ always answers True
// passes nothing either. What stays possible is a program written against this harness that
// reads the nonce out of the interpreter's memory: the tests run in the program's process.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "reward/code_task.h"

namespace ponder::reward {

// 128 random bits, hex.
std::string NewNonce();

// Python: harness.py is fixed (run it with `python3 -S`); task.txt carries the nonce, the
// style, the entry point, then the program, the setup and each test hex-encoded, one a line.
extern const char kPythonHarness[];
std::string PythonTaskFile(const CodeTask& task, const std::string& program,
                           const std::string& nonce);

// C++: one translation unit with the program, then the tests and a main() that reports.
// Fails (InvalidArgument) when a HumanEval-X test has no `int main()` to call.
absl::StatusOr<std::string> CppTestSource(const CodeTask& task, const std::string& program,
                                          const std::string& nonce);
// A HumanEval-X test's `int main() {...}` renamed to ponder_test_main, with `return 0;` before
// its closing brace (a function other than main that falls off its end returns garbage).
absl::StatusOr<std::string> RewriteTestMain(const std::string& test);

struct HarnessTest {
  bool reported = false;
  bool ok = false;
  std::string kind;  // assert | not_plain | error (when not ok)
  std::string error;
};

struct HarnessReport {
  std::vector<HarnessTest> tests;
  bool done = false;
  std::string program_error;  // the program raised (or did not compile) before the tests
  bool program_syntax_error = false;
  std::string task_error;  // the ground truth's own code is broken (setup or tests)
};

// Reads the report lines of run `nonce` from `stdout_text`; other lines are ignored.
HarnessReport ParseHarnessReport(const std::string& stdout_text, const std::string& nonce,
                                 size_t num_tests);

// The line a finished harness prints (the sandbox's success marker).
std::string DoneLine(const std::string& nonce);

}  // namespace ponder::reward
