// The `code` verifier: ground-truth parsing, program extraction, output matching, the harness
// reports, and scoring in the sandbox (Python stdin/stdout, MBPP asserts, HumanEval; C++
// stdin/stdout, asserts and HumanEval-X style), including the reward hacks of
// docs/design/sandbox.md §7 cases 24-26. The full HumanEval and MBPP sweeps are in
// code_datasets_test.cc (label slow); a slice of each runs here.
#include "reward/code_verifier.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/code_harness.h"
#include "reward/code_task.h"
#include "reward/reward.h"
#include "reward/reward_backend.h"
#include "reward/reward_server.h"
#include "reward/verifier_registry.h"
#include "tests/reward/code_datasets.h"
#include "tests/reward/sandbox_testing.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// ---- Ground truth --------------------------------------------------------------------------

std::string ParseError(const json& gt) {
  absl::StatusOr<CodeTask> task = ParseCodeTask(gt);
  EXPECT_FALSE(task.ok()) << gt.dump();
  return task.ok() ? "" : std::string(task.status().message());
}

TEST(CodeTask, ParsesTheThreeStyles) {
  absl::StatusOr<CodeTask> io =
      ParseCodeTask({{"language", "cpp"},
                     {"tests", {{{"stdin", "1 2\n"}, {"stdout", "3\n"}}, {{"stdout", "x"}}}}});
  ASSERT_TRUE(io.ok()) << io.status();
  EXPECT_EQ(io->language, CodeLanguage::kCpp);
  EXPECT_EQ(io->style, CodeTestStyle::kStdio);
  ASSERT_EQ(io->cases.size(), 2u);
  EXPECT_EQ(io->cases[0].stdin_data, "1 2\n");
  EXPECT_EQ(io->cases[1].stdin_data, "");
  EXPECT_EQ(io->num_tests(), 2u);

  absl::StatusOr<CodeTask> asserts = ParseCodeTask({{"language", "python"},
                                                    {"asserts", {"assert f(1) == 2"}},
                                                    {"setup", "import math"},
                                                    {"timeout_s", 2.5},
                                                    {"memory_mb", 128}});
  ASSERT_TRUE(asserts.ok()) << asserts.status();
  EXPECT_EQ(asserts->style, CodeTestStyle::kAsserts);
  EXPECT_EQ(asserts->setup, "import math");
  EXPECT_EQ(*asserts->timeout_s, 2.5);
  EXPECT_EQ(*asserts->memory_mb, 128);

  // A ground truth stored as a JSON string (as some datasets do).
  absl::StatusOr<CodeTask> function = ParseCodeTask(json(
      R"({"language": "python", "test": "def check(c): assert c(1) == 1", "entry_point": "f"})"));
  ASSERT_TRUE(function.ok()) << function.status();
  EXPECT_EQ(function->style, CodeTestStyle::kFunction);
  EXPECT_EQ(function->entry_point, "f");
  EXPECT_EQ(function->num_tests(), 1u);
}

TEST(CodeTask, BadGroundTruthNamesTheField) {
  EXPECT_THAT(ParseError(json("gold answer")), HasSubstr("must be an object"));
  EXPECT_THAT(ParseError(json::array()), HasSubstr("must be an object"));
  EXPECT_THAT(ParseError({{"tests", json::array()}}),
              HasSubstr("ground_truth.language is missing"));
  EXPECT_THAT(ParseError({{"language", "rust"}, {"asserts", {"x"}}}),
              HasSubstr("ground_truth.language must be python or cpp (got 'rust')"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"test_list", {"x"}}}),
              HasSubstr("ground_truth.test_list is not a known key"));
  EXPECT_THAT(ParseError({{"language", "python"}}), HasSubstr("exactly one of"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"asserts", {"x"}}, {"test", "y"}}),
              HasSubstr("exactly one of"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"tests", json::array()}}),
              HasSubstr("ground_truth.tests must be a non-empty list"));
  EXPECT_THAT(ParseError({{"language", "python"},
                          {"tests",
                           {{{"stdin", ""}, {"stdout", ""}},
                            {{"stdin", ""}, {"stdout", ""}},
                            {{"stdin", ""}, {"stdout", 3}}}}}),
              HasSubstr("ground_truth.tests[2].stdout must be a string (got number)"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"tests", {{{"input", "1"}}}}}),
              HasSubstr("ground_truth.tests[0].input is not a known key"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"asserts", {"assert x", "  "}}}),
              HasSubstr("ground_truth.asserts[1] must be a non-empty string"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"test", "def check(c): pass"}}),
              HasSubstr("ground_truth.entry_point is missing"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"test", "x"}, {"entry_point", "f(x)"}}),
              HasSubstr("must be a Python identifier"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"tests", {{{"stdout", ""}}}}, {"setup", "x"}}),
              HasSubstr("ground_truth.setup only goes with `asserts`"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"asserts", {"x"}}, {"timeout_s", -1}}),
              HasSubstr("ground_truth.timeout_s must be a number of seconds"));
  EXPECT_THAT(ParseError({{"language", "python"}, {"asserts", {"x"}}, {"memory_mb", "lots"}}),
              HasSubstr("ground_truth.memory_mb must be an integer >= 16"));
}

// ---- The program in a response -----------------------------------------------------------

TEST(CodeProgram, TakesTheLastBlockPreferringTheLanguage) {
  ExtractedProgram p = ExtractProgram(
      "First try:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\nOutput:\n"
      "```\n2\n```\n",
      CodeLanguage::kPython);
  EXPECT_EQ(p.code, "print(2)\n");
  EXPECT_EQ(p.source, "fenced_block");
  p = ExtractProgram("```cpp\nint main() {}\n```\n```text\nnothing\n```", CodeLanguage::kCpp);
  EXPECT_EQ(p.code, "int main() {}\n");
  // Untagged blocks: the last one.
  p = ExtractProgram("```\na = 1\n```\n\n```\nb = 2\n```", CodeLanguage::kPython);
  EXPECT_EQ(p.code, "b = 2\n");
  // A block cut off by the length limit.
  p = ExtractProgram("Here:\n```python\nprint('cut", CodeLanguage::kPython);
  EXPECT_EQ(p.code, "print('cut");
  EXPECT_EQ(p.source, "unclosed_block");
  p = ExtractProgram("print('no fences')\n", CodeLanguage::kPython);
  EXPECT_EQ(p.code, "print('no fences')\n");
  EXPECT_EQ(p.source, "whole_response");
  // Longer fences and indented fences.
  p = ExtractProgram("  ````py\nx = 1\n  ````\n", CodeLanguage::kPython);
  EXPECT_EQ(p.code, "x = 1\n");
}

TEST(CodeOutput, LinesTokensExact) {
  EXPECT_TRUE(OutputsMatch("1 2\n3\n", "1 2  \r\n3\n\n\n", OutputMatch::kLines, 0));
  EXPECT_FALSE(OutputsMatch("1 2\n3\n", "1  2\n3\n", OutputMatch::kLines, 0));
  EXPECT_FALSE(OutputsMatch("1\n", "", OutputMatch::kLines, 0));
  EXPECT_TRUE(OutputsMatch("", "\n\n", OutputMatch::kLines, 0));
  EXPECT_TRUE(OutputsMatch("1 2\n3", "1\n2 3\n", OutputMatch::kTokens, 0));
  EXPECT_FALSE(OutputsMatch("0.333333", "0.3333", OutputMatch::kTokens, 0));
  EXPECT_TRUE(OutputsMatch("0.333333", "0.3333", OutputMatch::kTokens, 1e-3));
  EXPECT_TRUE(OutputsMatch("1000000", "1000000.4", OutputMatch::kTokens, 1e-6));  // relative
  EXPECT_FALSE(OutputsMatch("nan", "nan", OutputMatch::kTokens, 1e-3) &&
               !OutputsMatch("nan", "nan", OutputMatch::kTokens, 0));
  EXPECT_FALSE(OutputsMatch("1\n", "1", OutputMatch::kExact, 0));
}

TEST(CodeOutput, ExcerptsAreValidUtf8) {
  EXPECT_EQ(Excerpt("ok \xff\xfe end", 100), "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(Excerpt("abc\xc3\xa9xyz", 4), "abc...[cut]");  // never half a character
  EXPECT_EQ(Excerpt("\xed\xa0\x80", 10), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_NO_THROW(json(Excerpt(std::string("\x80\x00\xc0", 3), 10)).dump());
}

TEST(CodeHarness, HumanEvalXMainBecomesAFunctionThatReturnsZero) {
  absl::StatusOr<std::string> rewritten = RewriteTestMain(
      "#include <assert.h>\nint main(){\n  // a } in a comment\n  assert(f(\"}\") == '}');\n"
      "  { int x = 0; }\n}\n");
  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  EXPECT_EQ(*rewritten,
            "#include <assert.h>\nint ponder_test_main(){\n  // a } in a comment\n"
            "  assert(f(\"}\") == '}');\n  { int x = 0; }\n\nreturn 0;\n}\n");
  EXPECT_THAT(RewriteTestMain("void test() {}").status().message(),
              HasSubstr("must define `int main()`"));
  EXPECT_THAT(RewriteTestMain("int main() { {").status().message(), HasSubstr("do not balance"));
}

TEST(CodeHarness, OnlyLinesWithTheNonceCount) {
  std::string nonce = NewNonce();
  EXPECT_EQ(nonce.size(), 7u + 32u);
  EXPECT_NE(nonce, NewNonce());
  std::string out = absl::StrCat("program output\n", nonce, " test 0 ok\n",
                                 "ponder-0000 test 1 ok\n",  // another nonce: a forgery
                                 "test 1 ok\n", nonce, " test 1 assert 6f6f7073\n",  // "oops"
                                 nonce, " test 7 ok\n",                              // out of range
                                 nonce, " test x ok\n", nonce, " garbage\n");
  HarnessReport r = ParseHarnessReport(out, nonce, 3);
  EXPECT_TRUE(r.tests[0].reported && r.tests[0].ok);
  EXPECT_TRUE(r.tests[1].reported);
  EXPECT_FALSE(r.tests[1].ok);
  EXPECT_EQ(r.tests[1].kind, "assert");
  EXPECT_EQ(r.tests[1].error, "oops");
  EXPECT_FALSE(r.tests[2].reported);
  EXPECT_FALSE(r.done);
  EXPECT_TRUE(ParseHarnessReport(DoneLine(nonce), nonce, 0).done);
  HarnessReport p = ParseHarnessReport(absl::StrCat(nonce, " program syntax 6869\n"), nonce, 1);
  EXPECT_TRUE(p.program_syntax_error);
  EXPECT_EQ(p.program_error, "hi");
}

TEST(CodeHarness, TheTaskFileIsHexLines) {
  CodeTask task;
  task.style = CodeTestStyle::kAsserts;
  task.asserts = {"assert f() == 'é'", "assert g()\n"};
  task.setup = "import os";
  std::string file = PythonTaskFile(task, "def f(): return 'é'\n", "ponder-ab");
  EXPECT_EQ(file, absl::StrCat("ponder-ab\nasserts\n-\n",
                               "646566206628293a2072657475726e2027c3a9270a\n",  // the program
                               "696d706f7274206f73\n",                          // setup
                               "61737365727420662829203d3d2027c3a927\n",
                               "61737365727420672829"
                               "0a\n"));
}

// ---- Scoring in the sandbox ----------------------------------------------------------------

class CodeVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PONDER_REQUIRE_SANDBOX();
    CodeOptions options;
    options.limits.wall_s = 5;
    options.sandbox.slots = 2;
    absl::StatusOr<std::unique_ptr<CodeVerifier>> v = CodeVerifier::Create(options);
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = std::move(*v);
  }
  void TearDown() override {
    if (verifier_) testing::ExpectHostClean(verifier_->sandbox());
  }
  VerifyResult Score(const std::string& response, const json& ground_truth) {
    VerifyInput input;
    input.response = response;
    input.ground_truth = ground_truth;
    absl::StatusOr<VerifyResult> r = verifier_->Score(input);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_NO_THROW(r->details.dump());
    return r.ok() ? *r : VerifyResult{};
  }
  std::unique_ptr<CodeVerifier> verifier_;
};

const json kAddTests = {{"language", "python"},
                        {"tests",
                         {{{"stdin", "1 2\n"}, {"stdout", "3\n"}},
                          {{"stdin", "3 -10\n"}, {"stdout", "-7\n"}},
                          {{"stdin", "0 0\n"}, {"stdout", "0\n"}}}}};

TEST_F(CodeVerifierTest, PythonStdioPassesAndFails) {
  VerifyResult ok =
      Score("```python\na, b = map(int, input().split())\nprint(a + b)\n```", kAddTests);
  EXPECT_EQ(ok.score, 1.0);
  EXPECT_EQ(ok.correct, true);
  EXPECT_EQ(ok.details["verdict"], "passed");
  EXPECT_EQ(ok.details["passed"], 3);

  // Right on two of three: a fraction, and the failing case in the details.
  VerifyResult partial =
      Score("```python\na, b = map(int, input().split())\nprint(abs(a + b))\n```", kAddTests);
  EXPECT_NEAR(partial.score, 2.0 / 3, 1e-12);
  EXPECT_EQ(partial.correct, false);
  EXPECT_EQ(partial.details["verdict"], "wrong_answer");
  EXPECT_EQ(partial.details["failing_test"]["index"], 1);
  EXPECT_EQ(partial.details["failing_test"]["expected"], "-7\n");
  EXPECT_EQ(partial.details["failing_test"]["got"], "7\n");
  EXPECT_EQ(partial.details["tests"], json({"passed", "wrong_answer", "passed"}));
}

TEST_F(CodeVerifierTest, PythonVerdictsAreKeptApart) {
  VerifyResult syntax = Score("```python\ndef broken(:\n    pass\n```", kAddTests);
  EXPECT_EQ(syntax.details["verdict"], "compile_error");
  EXPECT_EQ(syntax.score, 0);
  EXPECT_THAT(syntax.details["stderr"].get<std::string>(), HasSubstr("SyntaxError"));

  VerifyResult crash = Score("```python\nraise ValueError('boom')\n```", kAddTests);
  EXPECT_EQ(crash.details["verdict"], "runtime_error");
  EXPECT_THAT(crash.details["stderr"].get<std::string>(), HasSubstr("ValueError: boom"));

  json slow = kAddTests;
  slow["timeout_s"] = 1;
  VerifyResult timeout = Score("```python\nwhile True: pass\n```", slow);
  EXPECT_EQ(timeout.details["verdict"], "timeout");
  // After a timeout the remaining cases are not run.
  EXPECT_EQ(timeout.details["tests"], json({"timeout", "not_run", "not_run"}));

  json small = kAddTests;
  small["memory_mb"] = 64;
  VerifyResult memory = Score("```python\nx = b'x' * (1 << 30)\n```", small);
  EXPECT_EQ(memory.details["verdict"], "memory_limit");

  VerifyResult flood = Score("```python\nwhile True: print('x' * 10000)\n```", kAddTests);
  EXPECT_EQ(flood.details["verdict"], "output_limit");

  VerifyResult empty = Score("I don't know.\n```python\n\n```", kAddTests);
  EXPECT_EQ(empty.details["verdict"], "no_code");
}

TEST_F(CodeVerifierTest, AllOrNothingScoring) {
  CodeOptions options;
  options.scoring = "all_or_nothing";
  options.sandbox.slots = 2;
  absl::StatusOr<std::unique_ptr<CodeVerifier>> v = CodeVerifier::Create(options);
  ASSERT_TRUE(v.ok()) << v.status();
  VerifyInput input;
  input.response = "```python\na, b = map(int, input().split())\nprint(abs(a + b))\n```";
  input.ground_truth = kAddTests;
  absl::StatusOr<VerifyResult> r = (*v)->Score(input);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->score, 0.0);
  EXPECT_EQ(r->details["passed"], 1);  // stopped at the first failure
  EXPECT_EQ(r->details["tests"], json({"passed", "wrong_answer", "not_run"}));
}

TEST_F(CodeVerifierTest, MbppStyleAssertsWithSetup) {
  json gt = {{"language", "python"},
             {"setup", "import math"},
             {"asserts",
              {"assert hyp(3, 4) == 5.0", "assert math.isclose(hyp(1, 1), math.sqrt(2))",
               "assert hyp(0, 0) == 0"}}};
  VerifyResult ok = Score("```python\ndef hyp(a, b):\n    return math.hypot(a, b)\n```", gt);
  EXPECT_EQ(ok.score, 1.0) << ok.details.dump();
  VerifyResult partial = Score(
      "```python\ndef hyp(a, b):\n    return 5.0 if a == 3 else 0.0 if a == 0 else 1.5\n```", gt);
  EXPECT_NEAR(partial.score, 2.0 / 3, 1e-12) << partial.details.dump();
  EXPECT_EQ(partial.details["failing_test"]["index"], 1);
  EXPECT_EQ(partial.details["failing_test"]["assert"],
            "assert math.isclose(hyp(1, 1), math.sqrt(2))");
  VerifyResult raises = Score("```python\ndef hyp(a, b):\n    return 1 / 0\n```", gt);
  EXPECT_EQ(raises.details["verdict"], "runtime_error");
  EXPECT_THAT(raises.details["failing_test"]["error"].get<std::string>(),
              HasSubstr("ZeroDivisionError"));
  VerifyResult missing = Score("```python\ndef other(): pass\n```", gt);
  EXPECT_EQ(missing.details["verdict"], "runtime_error");
  EXPECT_THAT(missing.details["failing_test"]["error"].get<std::string>(), HasSubstr("NameError"));
  VerifyResult syntax = Score("```python\ndef hyp(a, b) return 1\n```", gt);
  EXPECT_EQ(syntax.details["verdict"], "compile_error");
}

// MBPP runs test_setup_code after the program: the setup may build objects from a class the
// solution defines, and the asserts use them.
TEST_F(CodeVerifierTest, MbppSetupUsesWhatTheSolutionDefines) {
  json gt = {{"language", "python"},
             {"setup", "root = Node(2)\nroot.left = Node(1)\nroot.right = Node(3)"},
             {"asserts", {"assert tree_sum(root) == 6", "assert tree_sum(None) == 0"}}};
  VerifyResult ok = Score(
      "```python\nclass Node:\n    def __init__(self, value):\n        self.value = value\n"
      "        self.left = self.right = None\n\n"
      "def tree_sum(node):\n    if node is None:\n        return 0\n"
      "    return node.value + tree_sum(node.left) + tree_sum(node.right)\n```",
      gt);
  EXPECT_EQ(ok.score, 1.0) << ok.details.dump();
  EXPECT_EQ(ok.correct, true);
  // A solution without the class fails as a program error, not as broken test code.
  VerifyResult missing = Score("```python\ndef tree_sum(node):\n    return 6\n```", gt);
  EXPECT_EQ(missing.score, 0.0) << missing.details.dump();
  EXPECT_EQ(missing.details["verdict"], "runtime_error") << missing.details.dump();
  EXPECT_THAT(missing.details.dump(), HasSubstr("NameError"));
}

TEST_F(CodeVerifierTest, BrokenTestCodeIsAGroundTruthError) {
  VerifyInput input;
  input.response = "```python\ndef f(): return 1\n```";
  input.ground_truth = {{"language", "python"}, {"asserts", {"assert f( == 1"}}};
  absl::StatusOr<VerifyResult> r = verifier_->Score(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("the test code itself fails"));
  EXPECT_THAT(r.status().message(), HasSubstr("SyntaxError"));
  input.ground_truth = {{"language", "python"},
                        {"asserts", {"assert f() == 1"}},
                        {"setup", "import no_such_module_here"}};
  r = verifier_->Score(input);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("ModuleNotFoundError"));
}

TEST_F(CodeVerifierTest, HumanEvalSlice) {
  std::vector<testing::CodeProblem> right = testing::HumanEvalProblems(false);
  std::vector<testing::CodeProblem> wrong = testing::HumanEvalProblems(true);
  ASSERT_EQ(right.size(), 164u);
  right.resize(12);
  wrong.resize(12);
  for (const testing::Scored& s : testing::ScoreAll(*verifier_, right, 2)) {
    ASSERT_TRUE(s.result.ok()) << testing::Describe(s);
    EXPECT_EQ(s.result->score, 1.0) << testing::Describe(s);
  }
  for (const testing::Scored& s : testing::ScoreAll(*verifier_, wrong, 2)) {
    ASSERT_TRUE(s.result.ok()) << testing::Describe(s);
    EXPECT_EQ(s.result->score, 0.0) << testing::Describe(s);
  }
}

TEST_F(CodeVerifierTest, MbppSlice) {
  std::vector<testing::CodeProblem> problems = testing::MbppProblems();
  ASSERT_EQ(problems.size(), 427u);
  problems.resize(30);
  for (const testing::Scored& s : testing::ScoreAll(*verifier_, problems, 2)) {
    ASSERT_TRUE(s.result.ok()) << testing::Describe(s);
    EXPECT_EQ(s.result->score, 1.0) << testing::Describe(s);
  }
}

// ---- Reward hacks (notes §7, cases 24-26) --------------------------------------------------

const json kHyp = {{"language", "python"},
                   {"asserts", {"assert add(2, 3) == 5", "assert add(-1, 1) == 0"}}};

TEST_F(CodeVerifierTest, ExitingBeforeTheTestsScoresZero) {
  for (const char* exit : {"import sys\nsys.exit(0)", "import os\nos._exit(0)",
                           "raise SystemExit(0)", "import signal, os\nos.kill(os.getpid(), 9)"}) {
    VerifyResult r =
        Score(absl::StrCat("```python\ndef add(a, b): return 0\n", exit, "\n```"), kHyp);
    EXPECT_EQ(r.score, 0.0) << exit << " " << r.details.dump();
    EXPECT_EQ(r.details["verdict"], "runtime_error") << exit;
  }
}

TEST_F(CodeVerifierTest, PrintingSuccessScoresZero) {
  VerifyResult r = Score(
      "```python\ndef add(a, b): return 0\n"
      "print('{\"test\": 0, \"ok\": true}')\nprint('ponder-0 {\"test\": 1, \"ok\": true}')\n"
      "print('ponder-0 {\"done\": true}')\nprint('All tests passed')\n"
      "import os\nos._exit(0)\n```",
      kHyp);
  EXPECT_EQ(r.score, 0.0) << r.details.dump();
}

TEST_F(CodeVerifierTest, TamperingWithTheTestsScoresZero) {
  struct Hack {
    const char* name;
    const char* code;
  };
  const Hack hacks[] = {
      {"always-equal object",
       "class Anything:\n    def __eq__(self, other): return True\n    __hash__ = object.__hash__\n"
       "def add(a, b): return Anything()\n"},
      {"int subclass equal to everything",
       "class Liar(int):\n    def __eq__(self, other): return True\n"
       "def add(a, b): return Liar(0)\n"},
      {"metaclass posing as int",
       "class Meta(type):\n    def __eq__(cls, other): return True\n    __hash__ = type.__hash__\n"
       "class Fake(metaclass=Meta):\n    def __eq__(self, other): return True\n"
       "def add(a, b): return Fake()\n"},
      {"patched builtins",
       "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
       "builtins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 0\n"
       "def add(a, b): return 7\n"},
      {"patched os.write and exit hooks",
       "import os, atexit, sys\n_w = os.write\n"
       "os.write = lambda fd, b: _w(fd, b.replace(b'false', b'true'))\n"
       "atexit.register(lambda: print('ok'))\nsys.excepthook = lambda *a: None\n"
       "def add(a, b): return 7\n"},
      {"reading the task file",
       "try:\n    print(open('task.txt').read())\nexcept OSError as e:\n    print('gone', e)\n"
       "def add(a, b): return 7\n"},
  };
  for (const Hack& hack : hacks) {
    VerifyResult r = Score(absl::StrCat("```python\n", hack.code, "```"), kHyp);
    EXPECT_EQ(r.score, 0.0) << hack.name << ": " << r.details.dump();
  }
  // The same wrong answer as plain data fails as a wrong answer, not an error.
  VerifyResult plain = Score("```python\ndef add(a, b): return 0\n```", kHyp);
  EXPECT_EQ(plain.details["verdict"], "wrong_answer");
  EXPECT_EQ(plain.score, 0.5);  // add(-1, 1) == 0 holds
}

TEST_F(CodeVerifierTest, PlainDataIncludesTheStandardContainers) {
  json gt = {{"language", "python"},
             {"setup", "from collections import Counter, OrderedDict, deque"},
             {"asserts",
              {"assert f()[0] == Counter('aab')", "assert f()[1] == {1: [2, (3, None)]}",
               "assert f()[2] == deque([1.5])", "assert set(f()[3]) == {b'x', frozenset()}"}}};
  VerifyResult r = Score(
      "```python\nfrom collections import Counter, deque\n"
      "def f():\n    return Counter('aba'), {1: [2, (3, None)]}, deque([1.5]), [b'x', "
      "frozenset()]\n```",
      gt);
  EXPECT_EQ(r.score, 1.0) << r.details.dump();
}

// ---- C++ -------------------------------------------------------------------------------------

const json kCppAdd = {{"language", "cpp"},
                      {"tests",
                       {{{"stdin", "1 2\n"}, {"stdout", "3\n"}},
                        {{"stdin", "2000000000 2000000000\n"}, {"stdout", "4000000000\n"}}}}};

TEST_F(CodeVerifierTest, CppStdio) {
  VerifyResult ok = Score(
      "```cpp\n#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; "
      "std::cout << a + b << \"\\n\"; }\n```",
      kCppAdd);
  EXPECT_EQ(ok.score, 1.0) << ok.details.dump();
  VerifyResult overflow = Score(
      "```cpp\n#include <iostream>\nint main() { int a, b; std::cin >> a >> b; "
      "std::cout << a + b << \"\\n\"; }\n```",
      kCppAdd);
  EXPECT_EQ(overflow.score, 0.5) << overflow.details.dump();
  EXPECT_EQ(overflow.details["verdict"], "wrong_answer");
  VerifyResult broken = Score("```cpp\nint main() { return undefined_name; }\n```", kCppAdd);
  EXPECT_EQ(broken.details["verdict"], "compile_error");
  EXPECT_THAT(broken.details["compile_output"].get<std::string>(), HasSubstr("undefined_name"));
  VerifyResult segv =
      Score("```cpp\nint main() { volatile int* p = nullptr; return *p; }\n```", kCppAdd);
  EXPECT_EQ(segv.details["verdict"], "runtime_error");
  EXPECT_THAT(segv.details["failing_test"]["error"].get<std::string>(), HasSubstr("SIGSEGV"));
  json slow = kCppAdd;
  slow["timeout_s"] = 1;
  VerifyResult loop = Score("```cpp\nint main() { for (volatile int i = 0;; ++i) {} }\n```", slow);
  EXPECT_EQ(loop.details["verdict"], "timeout");
}

TEST_F(CodeVerifierTest, CppAssertsAndHumanEvalXStyle) {
  json asserts = {
      {"language", "cpp"},
      {"setup", "#include <vector>"},
      {"asserts",
       {"assert(sum({1, 2, 3}) == 6);", "assert(sum({}) == 0);", "assert(sum({-1}) == 1);"}}};
  VerifyResult r = Score(
      "```cpp\nint sum(std::vector<int> v) { int s = 0; for (int x : v) s += x; return s; }\n```",
      asserts);
  EXPECT_NEAR(r.score, 2.0 / 3, 1e-12) << r.details.dump();
  EXPECT_EQ(r.details["failing_test"]["index"], 2);
  EXPECT_EQ(r.details["verdict"], "wrong_answer");
  // A program's macros cannot rewrite the harness.
  VerifyResult macro = Score(
      "```cpp\n#define assert(x) (void)0\n#define throw return\n"
      "int sum(std::vector<int> v) { return 42; }\n```",
      asserts);
  EXPECT_EQ(macro.score, 0.0) << macro.details.dump();

  json humaneval_x = {{"language", "cpp"},
                      {"test",
                       "#undef NDEBUG\n#include <assert.h>\n"
                       "int main() { assert(twice(2) == 4); assert(twice(-3) == -6); }\n"},
                      {"entry_point", "twice"}};
  EXPECT_EQ(Score("```cpp\nint twice(int x) { return 2 * x; }\n```", humaneval_x).score, 1.0);
  VerifyResult wrong = Score("```cpp\nint twice(int x) { return x + 2; }\n```", humaneval_x);
  EXPECT_EQ(wrong.score, 0.0);
  EXPECT_EQ(wrong.details["verdict"], "wrong_answer");
  VerifyResult early = Score(
      "```cpp\n#include <cstdlib>\nstatic int quit = (std::exit(0), 0);\n"
      "int twice(int x) { return x; }\n```",
      humaneval_x);
  EXPECT_EQ(early.score, 0.0) << early.details.dump();
}

// ---- Errors that are not the program's ------------------------------------------------------

TEST(CodeVerifierErrors, SandboxFailuresAreItemErrorsNotScores) {
  PONDER_REQUIRE_SANDBOX();
  std::string data_dir = "/var/tmp/" + testing::UniqueName("ponder-ro");
  std::filesystem::create_directory(data_dir);
  CodeOptions options;
  options.sandbox.slots = 1;
  options.sandbox.read_only_paths = {data_dir};  // bwrap fails once this is gone
  options.sandbox.python_fork_server = false;    // (a server started before has it bound)
  absl::StatusOr<std::unique_ptr<CodeVerifier>> v = CodeVerifier::Create(options);
  ASSERT_TRUE(v.ok()) << v.status();
  std::filesystem::remove(data_dir);
  VerifyInput input;
  input.response = "```python\nprint(3)\n```";
  input.ground_truth = kAddTests;
  absl::StatusOr<VerifyResult> r = (*v)->Score(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("not the program's fault"));
}

// A program still running when the caller's per-item deadline passes (below the sandbox's
// own limit) is a `timeout` verdict with score 0; only a deadline that leaves no time to
// start anything is an error of the item.
TEST(CodeVerifierErrors, TheCallersDeadlineStopsTheProgramWithATimeoutVerdict) {
  PONDER_REQUIRE_SANDBOX();
  CodeOptions options;
  options.sandbox.slots = 1;
  absl::StatusOr<std::unique_ptr<CodeVerifier>> v = CodeVerifier::Create(options);
  ASSERT_TRUE(v.ok()) << v.status();
  VerifyInput input;
  input.response = "```python\nwhile True: pass\n```";
  input.ground_truth = kAddTests;
  input.deadline = absl::Now() + absl::Milliseconds(1500);
  absl::StatusOr<VerifyResult> r = (*v)->Score(input);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->score, 0.0);
  EXPECT_EQ(r->correct, false);
  EXPECT_EQ(r->details["verdict"], "timeout");
  EXPECT_EQ(r->details["stopped_by_deadline"], true);
  input.deadline = absl::Now() - absl::Seconds(1);
  r = (*v)->Score(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("deadline passed before"));
}

// The issue this guards against: a trainer asking for a per-item timeout below the sandbox's
// own limit (reward.timeout_s 1 s against limits.wall_s 10 s) got an error back for an
// infinite loop, which dropped the sample or stopped the run. Through a reward server it is
// a scored `timeout`.
TEST(CodeVerifierErrors, ARequestTimeoutBelowTheSandboxLimitGivesATimeoutVerdictOverGrpc) {
  PONDER_REQUIRE_SANDBOX();
  RewardOptions options;
  options.verifiers[0].name = "code";
  options.threads = 1;
  absl::StatusOr<std::unique_ptr<Reward>> reward = Reward::Create(options);
  ASSERT_TRUE(reward.ok()) << reward.status();
  absl::StatusOr<std::unique_ptr<RewardServer>> server =
      RewardServer::Start({}, std::shared_ptr<const Reward>(std::move(*reward)));
  ASSERT_TRUE(server.ok()) << server.status();
  RewardClientOptions client;
  client.addresses = {(*server)->address()};
  absl::StatusOr<std::unique_ptr<GrpcRewardBackend>> backend = GrpcRewardBackend::Create(client);
  ASSERT_TRUE(backend.ok()) << backend.status();
  VerifyInput input;
  input.response = "```python\nwhile True: pass\n```";
  input.ground_truth = kAddTests;
  BatchOptions batch;
  batch.timeout = absl::Seconds(1);
  absl::StatusOr<std::vector<ItemResult>> results = (*backend)->Score({input}, batch);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1u);
  const ItemResult& r = (*results)[0];
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.result.score, 0.0);
  EXPECT_EQ(r.result.details["verdict"], "timeout");
}

TEST(CodeVerifierErrors, RegisteredWithTypedOptions) {
  const VerifierRegistry& registry = VerifierRegistry::Builtins();
  ASSERT_NE(registry.Find("code"), nullptr);
  absl::StatusOr<std::unique_ptr<Verifier>> bad =
      registry.CreateFromYaml("code", "scoring: most\nlimits: {wall_s: 0}\n", "--options");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("options.scoring"));
  EXPECT_THAT(bad.status().message(), HasSubstr("be fraction or all_or_nothing"));
  EXPECT_THAT(bad.status().message(), HasSubstr("options.limits.wall_s"));
}

TEST(CodeVerifierErrors, TwoVerifiersShareOneSandbox) {
  PONDER_REQUIRE_SANDBOX();
  CodeOptions options;
  options.sandbox.slots = 1;
  absl::StatusOr<std::unique_ptr<CodeVerifier>> a = CodeVerifier::Create(options);
  options.scoring = "all_or_nothing";
  absl::StatusOr<std::unique_ptr<CodeVerifier>> b = CodeVerifier::Create(options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(&(*a)->sandbox(), &(*b)->sandbox());
}

}  // namespace
}  // namespace ponder::reward
