// HumanEval and sanitized MBPP (tests/data/code/) as `code` verifier inputs: the reference
// solution as a model response, the tests as ground truth; and scoring many inputs on all
// sandbox slots at once.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reward/code_verifier.h"
#include "tests/testing.h"

namespace ponder::reward::testing {

struct CodeProblem {
  std::string id;
  VerifyInput input;  // response = the reference solution in a ```python block
};

inline std::string Fenced(const std::string& code) {
  return absl::StrCat("Here is my solution.\n\n```python\n", code, "\n```\n");
}

inline std::vector<nlohmann::json> HumanEvalRecords() {
  ::ponder::testing::CommandResult gz = ::ponder::testing::RunCommand(
      "gzip -dc " + ::ponder::testing::SourcePath("tests/data/code/HumanEval.jsonl.gz"));
  EXPECT_EQ(gz.exit_code, 0) << gz.err;
  std::vector<nlohmann::json> records;
  size_t start = 0;
  while (start < gz.out.size()) {
    size_t end = gz.out.find('\n', start);
    if (end == std::string::npos) end = gz.out.size();
    if (end > start) records.push_back(nlohmann::json::parse(gz.out.substr(start, end - start)));
    start = end + 1;
  }
  return records;
}

// The canonical solution, or (`mutated`) the same program whose entry point returns a wrong
// value of the same kind: numbers +1, booleans flipped, strings and sequences extended, None
// turned into 0. Recursive solutions call the wrapper too, which only makes them more wrong.
inline std::vector<CodeProblem> HumanEvalProblems(bool mutated) {
  std::vector<CodeProblem> problems;
  for (const nlohmann::json& r : HumanEvalRecords()) {
    std::string entry = r["entry_point"];
    std::string program =
        r["prompt"].get<std::string>() + r["canonical_solution"].get<std::string>();
    if (mutated) {
      absl::StrAppend(&program, "\n\n",
                      "def _mutant(value):\n"
                      "    if isinstance(value, bool):\n        return not value\n"
                      "    if isinstance(value, (int, float)):\n        return value + 1\n"
                      "    if isinstance(value, str):\n        return value + 'x'\n"
                      "    if isinstance(value, list):\n        return value + [None]\n"
                      "    if isinstance(value, tuple):\n        return value + (None,)\n"
                      "    if value is None:\n        return 0\n"
                      "    return None\n\n",
                      "_original = ", entry, "\n\n", "def ", entry, "(*args, **kwargs):\n",
                      "    return _mutant(_original(*args, **kwargs))\n");
    }
    CodeProblem p;
    p.id = r["task_id"];
    p.input.prompt = r["prompt"];
    p.input.response = Fenced(program);
    p.input.ground_truth = {{"language", "python"}, {"test", r["test"]}, {"entry_point", entry}};
    problems.push_back(std::move(p));
  }
  return problems;
}

inline std::vector<CodeProblem> MbppProblems() {
  nlohmann::json all = nlohmann::json::parse(::ponder::testing::ReadFile(
      ::ponder::testing::SourcePath("tests/data/code/sanitized-mbpp.json")));
  std::vector<CodeProblem> problems;
  for (const nlohmann::json& r : all) {
    CodeProblem p;
    p.id = absl::StrCat("MBPP/", r["task_id"].get<int>());
    p.input.prompt = r["prompt"];
    p.input.response = Fenced(r["code"]);
    std::vector<std::string> imports = r["test_imports"];
    p.input.ground_truth = {{"language", "python"},
                            {"asserts", r["test_list"]},
                            {"setup", absl::StrJoin(imports, "\n")}};
    problems.push_back(std::move(p));
  }
  return problems;
}

struct Scored {
  std::string id;
  absl::StatusOr<VerifyResult> result;
};

// Scores every problem, `threads` at a time (one per sandbox slot).
inline std::vector<Scored> ScoreAll(const Verifier& verifier,
                                    const std::vector<CodeProblem>& problems, int threads) {
  std::vector<Scored> out(problems.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < problems.size();) {
        out[i].id = problems[i].id;
        out[i].result = verifier.Score(problems[i].input);
      }
    });
  }
  for (auto& t : pool) t.join();
  return out;
}

inline std::string Describe(const Scored& s) {
  if (!s.result.ok()) return absl::StrCat(s.id, ": error ", s.result.status().ToString());
  return absl::StrCat(s.id, ": score ", s.result->score, " ", s.result->details.dump());
}

}  // namespace ponder::reward::testing
