// What the `code` verifier is asked to check: the ground truth of a code sample, the program
// taken from the model's response, and how a program's output is compared with the expected
// one.
//
// Ground truth (an object, or a string holding one as JSON):
//   {"language": "python" | "cpp",
//    and one of
//      "tests":   [{"stdin": "...", "stdout": "..."}, ...]         stdin/stdout cases
//      "asserts": ["assert f(1) == 2", ...], "setup": "import math" MBPP style (setup optional)
//      "test": "def check(candidate): ...", "entry_point": "f"     HumanEval style
//    optionally
//      "timeout_s": 2.5, "memory_mb": 256                            this task's run limits}
// For C++, `asserts` are statements run in a generated main() after the program, and `test`
// is a HumanEval-X style test with its own `int main()`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ponder::reward {

enum class CodeLanguage { kPython, kCpp };
const char* CodeLanguageName(CodeLanguage language);  // "python", "cpp"

enum class CodeTestStyle { kStdio, kAsserts, kFunction };
const char* CodeTestStyleName(CodeTestStyle style);  // "stdio", "asserts", "function"

struct StdioCase {
  std::string stdin_data;
  std::string expected_stdout;
};

struct CodeTask {
  CodeLanguage language = CodeLanguage::kPython;
  CodeTestStyle style = CodeTestStyle::kStdio;
  std::vector<StdioCase> cases;      // kStdio
  std::vector<std::string> asserts;  // kAsserts
  std::string setup;                 // kAsserts: Python runs it after the program (MBPP's
                                     // test_setup_code may use what it defines); C++ puts
                                     // it before the program (declarations, #include)
  std::string test;                  // kFunction
  std::string entry_point;           // kFunction
  std::optional<double> timeout_s;
  std::optional<int64_t> memory_mb;

  size_t num_tests() const;
};

// Parses and checks a ground truth; errors name the field ("ground_truth.tests[2].stdout must
// be a string").
absl::StatusOr<CodeTask> ParseCodeTask(const nlohmann::json& ground_truth);

struct ExtractedProgram {
  std::string code;
  // "fenced_block" (the last ``` block, preferring one tagged with the task's language),
  // "unclosed_block" (a final ``` block cut off by the length limit), or "whole_response".
  std::string source;
};
ExtractedProgram ExtractProgram(std::string_view response, CodeLanguage language);

enum class OutputMatch {
  kLines,   // line by line, ignoring trailing spaces and trailing empty lines (and \r)
  kTokens,  // whitespace-separated tokens; numbers within a tolerance when one is set
  kExact,
};
bool OutputsMatch(std::string_view expected, std::string_view got, OutputMatch match,
                  double float_tolerance);

// `text` cut to at most `max_chars` bytes (marking the cut) with invalid UTF-8 replaced, so
// that it can go into JSON details.
std::string Excerpt(std::string_view text, size_t max_chars);

}  // namespace ponder::reward
