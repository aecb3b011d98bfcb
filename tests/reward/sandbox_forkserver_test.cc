// The Python fork server (reward/internal/sandbox_forkserver.h): which commands it takes, that
// a run in it is indistinguishable from a fresh `python3 script.py` (the same scripts through
// both paths give the same verdict, exit status and output, tracebacks included), that runs
// leave nothing behind for the next one, and that a run which breaks the server still gets
// its true verdict. The attack suite (sandbox_attack_test.cc) runs through both paths too.
#include "reward/internal/sandbox_forkserver.h"

#include <signal.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/sandbox.h"
#include "tests/reward/sandbox_testing.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;
using testing::MakeSandbox;
using testing::RunPython;
using testing::SmallLimits;

SandboxCommand Python(std::vector<std::string> argv, std::vector<std::string> env = {}) {
  SandboxCommand command;
  command.argv = std::move(argv);
  command.env = std::move(env);
  return command;
}

TEST(ForkServerRequest, TakesPlainScriptCommandsOnly) {
  std::vector<std::string> base = {"PATH=/usr/bin:/bin"};
  auto request = internal::ForkRequestFor(Python({"/usr/bin/python3", "-S", "main.py", "x"}), base);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->argv, (std::vector<std::string>{"main.py", "x"}));
  EXPECT_FALSE(request->site);
  EXPECT_EQ(request->env, base);
  request = internal::ForkRequestFor(Python({"/usr/bin/python3", "-B", "t.py"}, {"A=1"}), base);
  ASSERT_TRUE(request.has_value());
  EXPECT_TRUE(request->site);
  EXPECT_EQ(request->env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=1"}));
  EXPECT_TRUE(internal::ForkRequestFor(
                  Python({"/usr/bin/python3", "main.py"}, {"PYTHONDONTWRITEBYTECODE=1"}), base)
                  .has_value());

  // What only a fresh interpreter does as asked: other flags, -c, -m, stdin as the program,
  // start-up variables, another interpreter.
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{"/usr/bin/python3", "-u", "main.py"},
                                             {"/usr/bin/python3", "-c", "print(1)"},
                                             {"/usr/bin/python3", "-m", "json.tool"},
                                             {"/usr/bin/python3", "-"},
                                             {"/usr/bin/python3", "-S"},
                                             {"/usr/bin/python3"},
                                             {"/usr/local/bin/python3", "main.py"},
                                             {"./main"}}) {
    EXPECT_FALSE(internal::ForkRequestFor(Python(argv), base).has_value()) << argv.back();
  }
  EXPECT_FALSE(
      internal::ForkRequestFor(Python({"/usr/bin/python3", "main.py"}, {"PYTHONHASHSEED=0"}), base)
          .has_value());
}

class ForkServer : public ::testing::Test {
 protected:
  void SetUp() override {
    PONDER_REQUIRE_SANDBOX();
    served_ = MakeSandbox();
    SandboxOptions plain;
    plain.python_fork_server = false;
    fresh_ = MakeSandbox(plain);
    ASSERT_NE(served_, nullptr);
    ASSERT_NE(fresh_, nullptr);
    if (served_->fork_server_pids().empty()) {
      PONDER_SKIP_OR_FAIL("no fork server here: " + served_->Describe());
    }
    EXPECT_THAT(served_->Describe(), HasSubstr("a Python fork server per slot"));
    EXPECT_TRUE(fresh_->fork_server_pids().empty());
  }
  void TearDown() override {
    if (served_) testing::ExpectHostClean(*served_);
    if (fresh_) testing::ExpectHostClean(*fresh_);
  }

  // Runs `files` (main.py first) with `argv` in both sandboxes; expects the same outcome.
  void ExpectSameBothWays(const std::vector<CodeSandbox::File>& files,
                          std::vector<std::string> argv, const std::string& stdin_data = "") {
    SandboxCommand command = Python(std::move(argv));
    command.limits = SmallLimits();
    command.stdin_data = stdin_data;
    absl::StatusOr<SandboxResult> a = served_->Run(files, command);
    absl::StatusOr<SandboxResult> b = fresh_->Run(files, command);
    ASSERT_TRUE(a.ok() && b.ok());
    std::string what = files[0].content.substr(0, 80);
    EXPECT_TRUE(a->fork_server) << what;
    EXPECT_FALSE(b->fork_server) << what;
    EXPECT_EQ(VerdictName(a->verdict), VerdictName(b->verdict)) << what << a->message;
    EXPECT_EQ(a->signal, b->signal) << what;
    if (b->signal == 0) {
      EXPECT_EQ(a->exit_code, b->exit_code) << what;
    }
    EXPECT_EQ(a->stdout_text, b->stdout_text) << what;
    EXPECT_EQ(a->stderr_text, b->stderr_text) << what;
  }

  void UseOneSlot() {
    SandboxOptions one;
    one.slots = 1;
    served_.reset();
    served_ = MakeSandbox(one);
    ASSERT_NE(served_, nullptr);
  }

  std::unique_ptr<CodeSandbox> served_, fresh_;
};

TEST_F(ForkServer, ARunIsLikeAFreshInterpreter) {
  const std::string probe =
      "import os, sys\n"
      "print(__name__, __file__, sys.argv, sys.path[0], os.getcwd(), os.getuid() > 0)\n"
      "print(type(__loader__).__name__, __spec__, __package__, __doc__)\n"
      "print(sys.modules['__main__'] is sys.modules[__name__])\n"
      "print(sorted(os.environ))\n"
      "print(sys.stdin.read().upper(), end='')\n"
      "print('err', file=sys.stderr)\n"
      "import helper\n"
      "print(helper.VALUE)\n"
      "if __name__ == '__main__':\n    print('main')\n";
  ExpectSameBothWays({{"main.py", probe}, {"helper.py", "VALUE = 42\n"}},
                     {"/usr/bin/python3", "-S", "main.py", "a b", "--c"}, "line one\n");
  // With site: its directories are on sys.path.
  ExpectSameBothWays({{"main.py", "import sys\nprint([p for p in sys.path if 'packages' in p])\n"}},
                     {"/usr/bin/python3", "main.py"});
}

TEST_F(ForkServer, EndingsAreTheInterpreters) {
  std::vector<std::string> endings = {
      "print('ok')\n",
      "import sys\nsys.exit(3)\n",
      "import sys\nsys.exit('a message')\n",
      "import sys\nsys.exit()\n",
      "raise SystemExit(256 + 7)\n",
      "def f(x):\n    return 1 / x\n\nprint('before')\nf(0)\n",
      "x = (\n",
      "import os\nprint('unflushed', end='')\nos._exit(4)\n",
      "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
      "raise KeyboardInterrupt\n",
      "import atexit\natexit.register(print, 'at exit')\nprint('body')\n",
      "import threading, time\n"
      "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\n"
      "print('main')\n",
      "import sys\nsys.stdout.write('no newline')\n",
      "assert 1 + 1 == 3, 'arithmetic'\n",
      "exit(5)\n",  // site's exit() is missing under -S: a NameError, as in python3 -S
      "x = [0] * (1 << 30)\n",
  };
  for (const std::string& code : endings) {
    ExpectSameBothWays({{"main.py", code}}, {"/usr/bin/python3", "-S", "main.py"});
  }
  ExpectSameBothWays({{"other.py", "print(1)\n"}}, {"/usr/bin/python3", "-S", "missing.py"});
}

TEST_F(ForkServer, RunsLeaveNothingForTheNext) {
  UseOneSlot();  // every run meets what the one before it left
  const std::string code =
      "import os, random, sys\n"
      "print(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')), sorted(os.listdir('.')))\n"
      "print(random.random())\n"
      "for d in ('/tmp', '/dev/shm', '.'):\n"
      "    open(os.path.join(d, 'left-behind'), 'w').write('x')\n"
      "sys.modules['math'].pi = 3\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    import time; time.sleep(30)\n";
  SandboxResult first = RunPython(*served_, code);
  SandboxResult second = RunPython(*served_, code);
  for (const SandboxResult* r : {&first, &second}) {
    ASSERT_EQ(r->verdict, Verdict::kOk) << r->message << r->stderr_text;
    EXPECT_TRUE(r->fork_server);
    EXPECT_EQ(r->stragglers, 1);  // the sleeper, killed after the run
    EXPECT_THAT(r->stdout_text, ::testing::StartsWith("[] [] ['main.py']\n"));
  }
  EXPECT_NE(first.stdout_text, second.stdout_text) << "the random generator was not reseeded";
  SandboxResult pi = RunPython(*served_, "import math\nprint(math.pi)\n");
  EXPECT_EQ(pi.stdout_text, "3.141592653589793\n");
}

TEST_F(ForkServer, RunsCannotReachIntoTheServer) {
  // The server shares the runs' uid but is not dumpable: its memory and descriptors are out
  // of reach, so no run can change how later runs are judged.
  SandboxResult r = RunPython(*served_,
                              "import os\n"
                              "for what in ('mem', 'fd/6', 'environ'):\n"
                              "    try:\n"
                              "        open('/proc/%d/%s' % (os.getppid(), what), 'rb').read(1)\n"
                              "        print(what, 'OPEN')\n"
                              "    except OSError as e:\n"
                              "        print(what, type(e).__name__)\n");
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_text;
  EXPECT_TRUE(r.fork_server);
  EXPECT_EQ(r.stdout_text, "mem PermissionError\nfd/6 PermissionError\nenviron PermissionError\n");
}

TEST_F(ForkServer, ARunThatBreaksTheServerIsRerunTheOrdinaryWay) {
  UseOneSlot();
  std::vector<int> before = served_->fork_server_pids();
  // Killing or stopping the server: the run is repeated with a fresh interpreter, whose result
  // stands, and the slot gets a new server.
  for (const char* attack : {"import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
                             "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n"}) {
    SandboxResult r = RunPython(*served_, std::string(attack) + "print('after')\n");
    EXPECT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_text;
    EXPECT_EQ(r.stdout_text, "after\n");
    EXPECT_FALSE(r.fork_server);
  }
  SandboxResult next = RunPython(*served_, "print('next')\n");
  EXPECT_EQ(next.stdout_text, "next\n");
  EXPECT_TRUE(next.fork_server);
  std::vector<int> after = served_->fork_server_pids();
  for (int pid : after) {
    EXPECT_EQ(std::count(before.begin(), before.end(), pid), 0) << "an old server is still used";
  }
}

TEST_F(ForkServer, OtherCommandsGoTheOrdinaryWay) {
  absl::StatusOr<SandboxResult> r =
      served_->Run({{"main.py", "print(1)\n"}}, Python({"/usr/bin/python3", "-u", "main.py"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, "1\n");
  EXPECT_FALSE(r->fork_server);
  r = served_->Run({{"main.py", "import sys\nprint(sys.flags.hash_randomization)\n"}},
                   Python({"/usr/bin/python3", "main.py"}, {"PYTHONHASHSEED=0"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, "0\n");
  EXPECT_FALSE(r->fork_server);
}

}  // namespace
}  // namespace ponder::reward
