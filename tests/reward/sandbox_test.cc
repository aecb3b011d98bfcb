// The code sandbox's parts (verdict rules, cgroup layouts on fake cgroupfs trees, options,
// work-dir file handling) and its behaviour on this host (runs, sessions, modes, fallbacks).
// The attack suite is in sandbox_attack_test.cc.
#include "reward/sandbox.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/internal/sandbox_cgroup.h"
#include "reward/internal/sandbox_seccomp.h"
#include "reward/internal/sandbox_verdict.h"
#include "reward/internal/sandbox_workdir.h"
#include "tests/reward/sandbox_testing.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;
using testing::MakeSandbox;
using testing::RunPython;
using testing::SmallLimits;

// ---- Verdict rules -------------------------------------------------------------------------

internal::RunOutcome Exited(int code) {
  internal::RunOutcome o;
  o.started = true;
  o.exited = true;
  o.wait_status = code << 8;  // as waitpid reports an exit
  return o;
}

internal::RunOutcome Signaled(int sig) {
  internal::RunOutcome o;
  o.started = true;
  o.exited = true;
  o.wait_status = sig;  // WIFSIGNALED, WTERMSIG == sig
  return o;
}

SandboxResult Judge(internal::RunOutcome o, internal::VerdictFacts facts = {},
                    SandboxCommand command = {}) {
  if (facts.cpu_limit_s == 0) facts.cpu_limit_s = 2;
  facts.output_cap = 1 << 20;
  return internal::Classify(std::move(o), facts, command);
}

TEST(SandboxVerdict, ExitZeroIsOk) {
  SandboxResult r = Judge(Exited(0));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(SandboxVerdict, ExitZeroWithoutTheMarkerIsNotOk) {
  SandboxCommand command;
  command.success_marker = "nonce-123";
  internal::RunOutcome o = Exited(0);
  o.out = "PASSED nonce-12\n";
  SandboxResult r = Judge(o, {}, command);
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_THAT(r.message, HasSubstr("success marker"));
  o.out = "all good\nnonce-123\n";
  EXPECT_EQ(Judge(o, {}, command).verdict, Verdict::kOk);
}

TEST(SandboxVerdict, NonZeroExitIsARuntimeError) {
  SandboxResult r = Judge(Exited(3));
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_EQ(r.message, "exited with status 3");
}

TEST(SandboxVerdict, BwrapReportsSignalsAs128PlusN) {
  internal::VerdictFacts facts;
  facts.exit_status_from_bwrap = true;
  SandboxResult r = Judge(Exited(128 + SIGSEGV), facts);
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_EQ(r.message, "killed by SIGSEGV");
  facts.exit_status_from_bwrap = false;  // elsewhere, 139 is just an exit status
  r = Judge(Exited(128 + SIGSEGV), facts);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.message, "exited with status 139");
  EXPECT_EQ(Judge(Signaled(SIGSEGV), facts).message, "killed by SIGSEGV");
}

TEST(SandboxVerdict, OomKillIsAMemoryLimitWhateverTheExitCode) {
  internal::VerdictFacts facts;
  facts.oom_kills = 1;
  // g++ exits 1 when the cgroup OOM-kills cc1plus (notes §4, pitfall 4).
  SandboxResult r = Judge(Exited(1), facts);
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit);
  EXPECT_THAT(r.message, HasSubstr("1 OOM kill"));
  EXPECT_EQ(Judge(Exited(0), facts).verdict, Verdict::kMemoryLimit);
}

TEST(SandboxVerdict, TheSupervisorsKillsComeFirst) {
  internal::RunOutcome o = Signaled(SIGKILL);
  o.killed_for_output = true;
  EXPECT_EQ(Judge(o).verdict, Verdict::kOutputLimit);
  o = Signaled(SIGKILL);
  o.killed_for_deadline = true;
  SandboxCommand command;
  command.limits.wall_s = 2.5;
  SandboxResult r = Judge(o, {}, command);
  EXPECT_EQ(r.verdict, Verdict::kWallTimeout);
  EXPECT_EQ(r.message, "wall-clock limit of 2.5 s exceeded");
}

TEST(SandboxVerdict, CpuTimeoutFromSigxcpuOrSigkillAtTheLimit) {
  EXPECT_EQ(Judge(Signaled(SIGXCPU)).verdict, Verdict::kCpuTimeout);
  internal::VerdictFacts facts;
  facts.cpu_limit_s = 2;
  facts.cpu_used_s = 3.0;  // the hard limit's SIGKILL
  EXPECT_EQ(Judge(Signaled(SIGKILL), facts).verdict, Verdict::kCpuTimeout);
  facts.cpu_used_s = 0.2;  // someone else's SIGKILL
  EXPECT_EQ(Judge(Signaled(SIGKILL), facts).verdict, Verdict::kRuntimeError);
}

TEST(SandboxVerdict, FileSizeFromSigxfszOrEfbig) {
  EXPECT_EQ(Judge(Signaled(SIGXFSZ)).verdict, Verdict::kFileSizeLimit);
  internal::RunOutcome o = Exited(1);
  o.err = "OSError: [Errno 27] File too large\n";
  EXPECT_EQ(Judge(o).verdict, Verdict::kFileSizeLimit);
}

TEST(SandboxVerdict, AllocationFailuresAreMemoryLimitsWhenAsked) {
  internal::RunOutcome o = Exited(128 + SIGABRT);
  o.err =
      "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  "
      "std::bad_alloc\n";
  SandboxCommand command;
  EXPECT_EQ(Judge(o, {}, command).verdict, Verdict::kMemoryLimit);
  command.memory_errors_are_limits = false;
  EXPECT_EQ(Judge(o, {}, command).verdict, Verdict::kRuntimeError);
  internal::RunOutcome py = Exited(1);
  py.err = "Traceback (most recent call last):\n  ...\nMemoryError\n";
  EXPECT_EQ(Judge(py).verdict, Verdict::kMemoryLimit);
}

TEST(SandboxVerdict, SandboxFailuresAreNeverTheProgramsFault) {
  internal::RunOutcome o = Exited(1);
  o.sandbox_error = "bwrap could not start the program: Creating new namespace failed";
  SandboxResult r = Judge(o);
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_THAT(r.message, HasSubstr("Creating new namespace failed"));
}

// ---- Cgroup layouts on fake trees --------------------------------------------------------

class FakeCgroupfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ponder-fake-cgroupfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void File(const std::string& rel, const std::string& content = "") {
    std::filesystem::path path = std::filesystem::path(root_) / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  std::string Read(const std::string& rel) { return testing::ReadText(root_ + "/" + rel); }
  std::string root_;
};

TEST(SandboxCgroup, ParsesProcSelfCgroup) {
  absl::StatusOr<internal::ProcCgroups> parsed = internal::ParseProcCgroups(
      "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->v1.at("memory"), "/process_api/abc");
  EXPECT_EQ(parsed->v1.at("cpu"), "/x");
  EXPECT_EQ(parsed->v1.at("cpuacct"), "/x");
  EXPECT_EQ(*parsed->unified, "/");
  absl::StatusOr<internal::ProcCgroups> bad = internal::ParseProcCgroups("0::/\nmemory\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("/proc/self/cgroup line 2 is malformed"));
}

TEST_F(FakeCgroupfs, PureV2WritesTheV2Files) {
  File("cgroup.controllers", "cpuset cpu io memory pids\n");
  File("app/cgroup.controllers", "cpu memory pids\n");
  File("app/cgroup.subtree_control", "cpu memory pids\n");
  File("app/cgroup.procs", "");
  for (const char* f :
       {"cgroup.procs", "cgroup.kill", "memory.max", "memory.swap.max", "pids.max", "cpu.max"}) {
    File(absl::StrCat("app/slot/", f));
  }
  File("app/slot/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
  File("app/slot/memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
  absl::StatusOr<internal::CgroupHost> host =
      internal::CgroupHost::Detect(root_, "0::/app\n", 4242);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->layout(), CgroupLayout::kV2);
  absl::StatusOr<std::unique_ptr<internal::SlotCgroup>> slot = host->CreateSlot("slot");
  ASSERT_TRUE(slot.ok()) << slot.status();
  ASSERT_TRUE((*slot)->Apply({256 << 20, 64, 0.5}).ok());
  EXPECT_EQ(Read("app/slot/memory.max"), "268435456");
  EXPECT_EQ(Read("app/slot/memory.swap.max"), "0");
  EXPECT_EQ(Read("app/slot/pids.max"), "64");
  EXPECT_EQ(Read("app/slot/cpu.max"), "50000 100000");
  internal::CgroupUsage usage = (*slot)->ReadUsage();
  EXPECT_DOUBLE_EQ(usage.cpu_s, 1.5);
  EXPECT_EQ(usage.oom_kills, 2);
  EXPECT_EQ((*slot)->kill_path(), root_ + "/app/slot/cgroup.kill");
  EXPECT_EQ((*slot)->procs_path(), root_ + "/app/slot/cgroup.procs");
  EXPECT_EQ((*slot)->join_fds().size(), 1u);
  // Only changed limits are written again.
  File("app/slot/pids.max", "untouched");
  ASSERT_TRUE((*slot)->Apply({512 << 20, 64, 0.5}).ok());
  EXPECT_EQ(Read("app/slot/memory.max"), "536870912");
  EXPECT_EQ(Read("app/slot/pids.max"), "untouched");
}

TEST_F(FakeCgroupfs, PureV2EnablesControllersAfterMovingIntoALeaf) {
  File("cgroup.controllers", "cpu memory pids\n");
  File("svc/cgroup.controllers", "cpu memory pids\n");
  File("svc/cgroup.subtree_control", "");
  File("svc/cgroup.procs", "4242\n");
  File("svc/ponder-supervisor-4242/cgroup.procs", "");
  absl::StatusOr<internal::CgroupHost> host =
      internal::CgroupHost::Detect(root_, "0::/svc\n", 4242);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(Read("svc/ponder-supervisor-4242/cgroup.procs"), "4242");
  EXPECT_EQ(Read("svc/cgroup.subtree_control"), "+memory +pids +cpu");
  // After the move, /proc/self/cgroup names the leaf; its parent is still the base.
  absl::StatusOr<internal::CgroupHost> again =
      internal::CgroupHost::Detect(root_, "0::/svc/ponder-supervisor-4242\n", 4242);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(again->Describe(), HasSubstr(root_ + "/svc"));
  EXPECT_THAT(again->Describe(), ::testing::Not(HasSubstr("ponder-supervisor")));
}

TEST_F(FakeCgroupfs, PureV2RefusesToMoveOtherProcesses) {
  File("cgroup.controllers", "memory pids\n");
  File("svc/cgroup.controllers", "memory pids\n");
  File("svc/cgroup.subtree_control", "");
  File("svc/cgroup.procs", "4242\n77\n");
  absl::StatusOr<internal::CgroupHost> host =
      internal::CgroupHost::Detect(root_, "0::/svc\n", 4242);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.status().message(), HasSubstr("other processes (pid 77) live there"));
}

TEST_F(FakeCgroupfs, PureV2NeedsTheMemoryController) {
  File("cgroup.controllers", "cpu pids\n");
  File("svc/cgroup.controllers", "cpu pids\n");
  absl::StatusOr<internal::CgroupHost> host = internal::CgroupHost::Detect(root_, "0::/svc\n", 1);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.status().message(), HasSubstr("controller 'memory' is not available"));
}

TEST_F(FakeCgroupfs, HybridWritesV1FilesAndKillsThroughUnified) {
  for (const char* c : {"memory", "pids", "cpu", "cpuacct"}) {
    File(absl::StrCat(c, "/cgroup.procs"));
    File(absl::StrCat(c, "/me/s/cgroup.procs"));
  }
  for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}) {
    File(absl::StrCat("memory/me/s/", f));
  }
  File("memory/me/s/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  File("pids/me/s/pids.max");
  File("cpu/me/s/cpu.cfs_quota_us");
  File("cpu/me/s/cpu.cfs_period_us");
  File("cpuacct/me/s/cpuacct.usage", "2500000000\n");
  File("unified/cgroup.controllers", "hugetlb\n");
  File("unified/s/cgroup.procs");
  File("unified/s/cgroup.kill");
  absl::StatusOr<internal::CgroupHost> host = internal::CgroupHost::Detect(
      root_, "8:pids:/me\n4:memory:/me\n2:cpuacct:/me\n1:cpu:/me\n0::/\n", 1);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->layout(), CgroupLayout::kHybrid);
  absl::StatusOr<std::unique_ptr<internal::SlotCgroup>> slot = host->CreateSlot("s");
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(Read("cpu/me/s/cpu.cfs_period_us"), "100000");
  ASSERT_TRUE((*slot)->Apply({256 << 20, 32, 1.0}).ok());
  EXPECT_EQ(Read("memory/me/s/memory.limit_in_bytes"), "268435456");
  EXPECT_EQ(Read("memory/me/s/memory.memsw.limit_in_bytes"), "268435456");
  EXPECT_EQ(Read("pids/me/s/pids.max"), "32");
  EXPECT_EQ(Read("cpu/me/s/cpu.cfs_quota_us"), "100000");
  internal::CgroupUsage usage = (*slot)->ReadUsage();
  EXPECT_DOUBLE_EQ(usage.cpu_s, 2.5);
  EXPECT_EQ(usage.oom_kills, 1);
  EXPECT_EQ((*slot)->kill_path(), root_ + "/unified/s/cgroup.kill");
  EXPECT_EQ((*slot)->join_fds().size(), 5u);  // memory, pids, cpu, cpuacct, unified
}

TEST_F(FakeCgroupfs, V1WithoutUnifiedKillsOneByOne) {
  for (const char* c : {"memory", "pids"}) {
    File(absl::StrCat(c, "/cgroup.procs"));
    File(absl::StrCat(c, "/s/cgroup.procs"));
  }
  absl::StatusOr<internal::CgroupHost> host =
      internal::CgroupHost::Detect(root_, "3:pids:/\n2:memory:/\n", 1);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->layout(), CgroupLayout::kV1);
  absl::StatusOr<std::unique_ptr<internal::SlotCgroup>> slot = host->CreateSlot("s");
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ((*slot)->kill_path(), "");
  EXPECT_EQ((*slot)->procs_path(), root_ + "/pids/s/cgroup.procs");
}

TEST_F(FakeCgroupfs, NoMemoryOrPidsControllerMeansNoCgroups) {
  File("cpu/cgroup.procs");
  absl::StatusOr<internal::CgroupHost> host = internal::CgroupHost::Detect(root_, "1:cpu:/\n", 1);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->layout(), CgroupLayout::kNone);
}

// ---- Options, filter, work dir -------------------------------------------------------------

TEST(SandboxOptions, RootAsTheSlotUidIsRefused) {
  SandboxOptions options;
  options.uid_base = 0;
  absl::StatusOr<std::unique_ptr<CodeSandbox>> sandbox = CodeSandbox::Create(options);
  ASSERT_FALSE(sandbox.ok());
  EXPECT_THAT(sandbox.status().message(), HasSubstr("untrusted code never runs as root"));
}

TEST(SandboxOptions, YamlErrorsNameTheKey) {
  struct Holder {
    SandboxOptions sandbox;
    void Bind(config::Binder& b) { b.Field("sandbox", sandbox); }
  };
  absl::StatusOr<Holder> bad = config::LoadString<Holder>(
      "sandbox:\n  mode: docker\n  uid_base: 0\n  work_dir_mb: 0\n", "job.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("sandbox.mode"));
  EXPECT_THAT(bad.status().message(), HasSubstr("be one of auto, bwrap, namespaces, plain"));
  EXPECT_THAT(bad.status().message(), HasSubstr("sandbox.uid_base"));
  EXPECT_THAT(bad.status().message(), HasSubstr("sandbox.work_dir_mb"));
  absl::StatusOr<Holder> good = config::LoadString<Holder>(
      "sandbox:\n  slots: 3\n  read_only_paths: [/opt/data]\n", "job.yaml");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->sandbox.slots, 3);
}

TEST(SandboxOptions, LimitsAreValidatedWithTheirNames) {
  SandboxLimits limits;
  limits.wall_s = 0;
  EXPECT_THAT(limits.Validate().message(), HasSubstr("wall_s must be in (0, 3600]"));
  limits = {};
  limits.memory_mb = 4;
  EXPECT_THAT(limits.Validate().message(), HasSubstr("memory_mb must be >= 16 (got 4)"));
  SandboxOptions options;
  options.read_only_paths = {"relative/path"};
  EXPECT_THAT(options.Validate().message(), HasSubstr("absolute paths"));
}

TEST(SandboxSeccomp, BuildsAProgramAndAMemfd) {
  absl::StatusOr<internal::SeccompFilter> filter = internal::SeccompFilter::Build();
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_GT(filter->program()->len, 40);
  absl::StatusOr<int> fd = filter->NewMemfd();
  ASSERT_TRUE(fd.ok()) << fd.status();
  struct stat st;
  ASSERT_EQ(fstat(*fd, &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), filter->bytes().size());
  close(*fd);
}

TEST(SandboxWorkDir, FileNamesArePlainAndLinksAreNeverFollowed) {
  char tmpl[] = "/tmp/ponder-workdir-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (const char* bad : {"", "..", "a/b", "."}) {
    absl::Status s = internal::WriteWorkFile(dir, bad, "x", false, 0, false);
    EXPECT_THAT(s.message(), HasSubstr("must be a plain file name")) << bad;
  }
  std::string target = dir + "-target";
  std::ofstream(target) << "precious";
  ASSERT_EQ(symlink(target.c_str(), (dir + "/main.py").c_str()), 0);
  absl::Status s = internal::WriteWorkFile(dir, "main.py", "overwrite", false, 0, false);
  EXPECT_THAT(s.message(), HasSubstr("cannot create main.py"));
  EXPECT_EQ(testing::ReadText(target), "precious");
  // Removal unlinks the link, not its target, and descends into directories.
  mkdir((dir + "/sub").c_str(), 0755);
  ASSERT_EQ(symlink(target.c_str(), (dir + "/sub/link").c_str()), 0);
  internal::RemoveContents(dir);
  EXPECT_FALSE(testing::PathExists(dir + "/main.py"));
  EXPECT_FALSE(testing::PathExists(dir + "/sub"));
  EXPECT_EQ(testing::ReadText(target), "precious");
  std::filesystem::remove_all(dir);
  std::filesystem::remove(target);
}

TEST(SandboxWorkDir, AUidLeaseIsExclusive) {
  char tmpl[] = "/tmp/ponder-lease-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  {
    absl::StatusOr<internal::UidLease> first = internal::UidLease::Take(tmpl, 65001);
    ASSERT_TRUE(first.ok()) << first.status();
    absl::StatusOr<internal::UidLease> second = internal::UidLease::Take(tmpl, 65001);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(absl::IsUnavailable(second.status()));
  }
  EXPECT_TRUE(internal::UidLease::Take(tmpl, 65001).ok());  // released with the first
  std::filesystem::remove_all(tmpl);
}

// ---- Runs on this host ---------------------------------------------------------------------

TEST(Sandbox, RunsPythonAsTheSlotUidInBox) {
  PONDER_REQUIRE_SANDBOX();
  auto sandbox = MakeSandbox();
  ASSERT_NE(sandbox, nullptr);
  EXPECT_EQ(sandbox->mode(), SandboxMode::kBubblewrap);
  EXPECT_FALSE(sandbox->degraded());
  EXPECT_THAT(sandbox->Describe(), HasSubstr("mode bwrap"));
  SandboxResult r = RunPython(*sandbox,
                              "import os, sys\n"
                              "print(os.getuid(), os.getcwd(), sorted(os.listdir('.')))\n"
                              "print(sys.stdin.read().upper(), end='')\n"
                              "print('to stderr', file=sys.stderr)\n",
                              SmallLimits(), "some input\n");
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_text;
  std::vector<int> uids = sandbox->slot_uids();
  EXPECT_EQ(r.stdout_text, absl::StrCat(uids[0], " /box ['main.py']\nSOME INPUT\n"));
  EXPECT_EQ(r.stderr_text, "to stderr\n");
  EXPECT_GE(r.cpu_s, 0.0);
  EXPECT_EQ(r.oom_kills, 0);
  EXPECT_EQ(r.stragglers, 0);
  EXPECT_TRUE(r.fork_server);
  testing::ExpectHostClean(*sandbox);
}

TEST(Sandbox, TheEnvironmentIsMinimal) {
  PONDER_REQUIRE_SANDBOX();
  setenv("PONDER_TEST_SECRET_TOKEN", "hunter2", 1);
  auto sandbox = MakeSandbox();
  ASSERT_NE(sandbox, nullptr);
  SandboxResult r =
      RunPython(*sandbox, "import os\nfor k in sorted(os.environ): print(k, os.environ[k])\n");
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_text;
  EXPECT_THAT(r.stdout_text, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(r.stdout_text, HasSubstr("PATH /usr/bin:/bin"));
  EXPECT_THAT(r.stdout_text, HasSubstr("OMP_NUM_THREADS 1"));
  unsetenv("PONDER_TEST_SECRET_TOKEN");
}

TEST(Sandbox, ASessionCompilesThenRunsCpp) {
  PONDER_REQUIRE_SANDBOX();
  auto sandbox = MakeSandbox();
  ASSERT_NE(sandbox, nullptr);
  testing::CppRun r = testing::RunCpp(*sandbox,
                                      "#include <iostream>\n"
                                      "int main() { long a, b; std::cin >> a >> b;\n"
                                      "  std::cout << a + b << std::endl; }\n",
                                      SmallLimits(), "40 2\n");
  ASSERT_EQ(r.compile.verdict, Verdict::kOk) << r.compile.message << r.compile.stderr_text;
  ASSERT_EQ(r.run.verdict, Verdict::kOk) << r.run.message << r.run.stderr_text;
  EXPECT_EQ(r.run.stdout_text, "42\n");
  testing::ExpectHostClean(*sandbox);
}

TEST(Sandbox, EachSessionStartsWithAnEmptyWorkDir) {
  PONDER_REQUIRE_SANDBOX();
  SandboxOptions options;
  options.slots = 1;
  auto sandbox = MakeSandbox(options);
  ASSERT_NE(sandbox, nullptr);
  std::string work_dir;
  {
    absl::StatusOr<SandboxSession> session = sandbox->Acquire();
    ASSERT_TRUE(session.ok());
    work_dir = session->host_work_dir();
    struct statfs fs;
    ASSERT_EQ(statfs(work_dir.c_str(), &fs), 0);
    EXPECT_EQ(fs.f_type, 0x01021994) << "the work dir is not a tmpfs";  // TMPFS_MAGIC
    SandboxCommand leave;
    leave.argv = {"/usr/bin/python3", "-c", "open('left.txt', 'w').write('x')"};
    ASSERT_EQ(session->Run(leave)->verdict, Verdict::kOk);
  }
  SandboxResult r = RunPython(*sandbox, "import os; print(os.listdir('.'))");
  EXPECT_EQ(r.stdout_text, "['main.py']\n");
  // Between sessions nothing is mounted on the host.
  struct statfs fs;
  ASSERT_EQ(statfs(work_dir.c_str(), &fs), 0);
  EXPECT_NE(fs.f_type, 0x01021994);
}

TEST(Sandbox, ParallelSessionsUseDifferentSlots) {
  PONDER_REQUIRE_SANDBOX();
  auto sandbox = MakeSandbox();
  ASSERT_NE(sandbox, nullptr);
  SandboxResult a, b;
  std::thread ta(
      [&] { a = RunPython(*sandbox, "import os, time; time.sleep(0.3); print(os.getuid())"); });
  std::thread tb(
      [&] { b = RunPython(*sandbox, "import os, time; time.sleep(0.3); print(os.getuid())"); });
  ta.join();
  tb.join();
  ASSERT_EQ(a.verdict, Verdict::kOk) << a.message;
  ASSERT_EQ(b.verdict, Verdict::kOk) << b.message;
  EXPECT_NE(a.stdout_text, b.stdout_text);
}

TEST(Sandbox, TwoSandboxesNeverShareAUid) {
  PONDER_REQUIRE_SANDBOX();
  auto first = MakeSandbox();
  auto second = MakeSandbox();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  for (int uid : first->slot_uids()) {
    EXPECT_THAT(second->slot_uids(), ::testing::Not(::testing::Contains(uid)));
  }
}

TEST(Sandbox, BadCommandsAreErrorsNotVerdicts) {
  PONDER_REQUIRE_SANDBOX();
  auto sandbox = MakeSandbox();
  ASSERT_NE(sandbox, nullptr);
  SandboxCommand command;
  EXPECT_THAT(sandbox->Run({}, command).status().message(), HasSubstr("argv is empty"));
  command.argv = {"python3"};
  EXPECT_THAT(sandbox->Run({}, command).status().message(), HasSubstr("by path"));
  command.argv = {"/usr/bin/true"};
  command.limits.wall_s = -1;
  EXPECT_THAT(sandbox->Run({}, command).status().message(), HasSubstr("wall_s"));
  command.limits = {};
  EXPECT_THAT(sandbox->Run({{"../x", ""}}, command).status().message(),
              HasSubstr("plain file name"));
}

TEST(Sandbox, AMissingProgramIsARuntimeErrorNotASandboxError) {
  PONDER_REQUIRE_SANDBOX();
  auto sandbox = MakeSandbox();
  ASSERT_NE(sandbox, nullptr);
  SandboxCommand command;
  command.argv = {"./main"};  // e.g. a compile that produced nothing
  absl::StatusOr<SandboxResult> r = sandbox->Run({}, command);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kRuntimeError) << r->message;
}

// Notes §7 case 30: bwrap absent -> the built-in namespaces mode, reported.
TEST(Sandbox, FallsBackToNamespacesWithoutBwrap) {
  PONDER_REQUIRE_SANDBOX();
  SandboxOptions options;
  options.bwrap_path = "/nonexistent/bwrap";
  auto sandbox = MakeSandbox(options);
  ASSERT_NE(sandbox, nullptr);
  EXPECT_EQ(sandbox->mode(), SandboxMode::kNamespaces);
  EXPECT_FALSE(sandbox->degraded());
  EXPECT_THAT(sandbox->Describe(), HasSubstr("mode namespaces"));
  EXPECT_THAT(sandbox->Describe(), HasSubstr("/nonexistent/bwrap is not an executable"));
  SandboxResult r = RunPython(*sandbox,
                              "import os, socket\n"
                              "print(os.getuid(), os.getpid(), os.getcwd())\n"
                              "print(sorted(os.listdir('/')))\n"
                              "print(os.path.exists('/etc/shadow'), os.path.exists('/root'))\n"
                              "try:\n  socket.socket(socket.AF_INET)\n"
                              "except OSError as e: print('socket', e.errno)\n"
                              "print([l for l in open('/proc/self/status') if l.startswith(("
                              "'Seccomp:', 'NoNewPrivs:', 'CapEff:'))])\n");
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr(absl::StrCat(sandbox->slot_uids()[0], " 2 /box\n")));
  // A minimal root: /usr and a few system files, nothing else of the host.
  for (const char* dir : {"'box'", "'usr'", "'proc'", "'tmp'", "'dev'"}) {
    EXPECT_THAT(r.stdout_text, HasSubstr(dir));
  }
  for (const char* dir : {"'root'", "'home'", "'var'", "'run'", "'work'", "'sys'"}) {
    EXPECT_THAT(r.stdout_text, ::testing::Not(HasSubstr(dir)));
  }
  EXPECT_THAT(r.stdout_text, HasSubstr("False False"));
  EXPECT_THAT(r.stdout_text, HasSubstr("socket 13"));  // EACCES
  EXPECT_THAT(r.stdout_text, HasSubstr("Seccomp:\\t2"));
  EXPECT_THAT(r.stdout_text, HasSubstr("NoNewPrivs:\\t1"));
  EXPECT_THAT(r.stdout_text, HasSubstr("CapEff:\\t0000000000000000"));
  SandboxLimits limits = SmallLimits();
  r = RunPython(*sandbox, "while True: pass", limits);
  EXPECT_EQ(r.verdict, Verdict::kCpuTimeout) << r.message;  // no pid-1 quirk: P is pid 1
  testing::ExpectHostClean(*sandbox);
}

TEST(Sandbox, PlainModeIsRefusedUnlessDegradedIsAllowed) {
  PONDER_REQUIRE_SANDBOX();
  SandboxOptions options;
  options.mode = "plain";
  absl::StatusOr<std::unique_ptr<CodeSandbox>> refused = CodeSandbox::Create(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("host filesystem would be visible"));
  options.allow_degraded = true;
  auto sandbox = MakeSandbox(options);
  ASSERT_NE(sandbox, nullptr);
  EXPECT_EQ(sandbox->mode(), SandboxMode::kPlain);
  EXPECT_TRUE(sandbox->degraded());
  EXPECT_THAT(sandbox->Describe(), HasSubstr("DEGRADED"));
  SandboxResult r = RunPython(*sandbox,
                              "import os, socket\nprint(os.getuid())\n"
                              "try:\n  socket.socket(socket.AF_INET)\n"
                              "except OSError as e: print('socket', e.errno)\n"
                              "print(open('/etc/shadow').read())\n");
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_EQ(r.stdout_text, absl::StrCat(sandbox->slot_uids()[0], "\nsocket 13\n"));
  EXPECT_THAT(r.stderr_text, HasSubstr("PermissionError"));
  testing::ExpectHostClean(*sandbox);
}

TEST(Sandbox, PlainModeWithoutCgroupsKillsLeftoversByUid) {
  PONDER_REQUIRE_SANDBOX();
  SandboxOptions options;
  options.mode = "plain";
  options.allow_degraded = true;
  options.cgroups = "off";
  auto sandbox = MakeSandbox(options);
  ASSERT_NE(sandbox, nullptr);
  absl::StatusOr<SandboxSession> session = sandbox->Acquire();
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(session
                  ->WriteFile("main.py",
                              "import os, time\n"
                              "if os.fork() == 0:\n    os.setsid()\n"
                              "    if os.fork() == 0:\n        time.sleep(2)\n"
                              "        open('marker', 'w').write('daemon was here')\n"
                              "    os._exit(0)\n")
                  .ok());
  SandboxCommand command;
  command.argv = {"/usr/bin/python3", "main.py"};
  command.limits = SmallLimits();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<SandboxResult> r = session->Run(command);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->verdict, Verdict::kOk) << r->message;
    EXPECT_LT(r->wall_s, 1.0);
  }
  testing::ExpectHostClean(*sandbox);
  absl::SleepFor(absl::Seconds(2.5));
  EXPECT_FALSE(testing::PathExists(session->host_work_dir() + "/marker"));
}

TEST(Sandbox, WithoutCgroupsRlimitsStillApply) {
  PONDER_REQUIRE_SANDBOX();
  SandboxOptions options;
  options.cgroups = "off";
  auto sandbox = MakeSandbox(options);
  ASSERT_NE(sandbox, nullptr);
  EXPECT_EQ(sandbox->cgroup_layout(), CgroupLayout::kNone);
  EXPECT_THAT(sandbox->Describe(), HasSubstr("no cgroups"));
  SandboxLimits limits = SmallLimits();
  limits.address_space_mb = 1024;
  SandboxResult r = RunPython(*sandbox, "x = bytearray(2 << 30)", limits);
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit) << r.message;
  EXPECT_EQ(r.cpu_s, -1.0);
  r = RunPython(*sandbox, "while True: pass", limits);
  EXPECT_EQ(r.verdict, Verdict::kCpuTimeout) << r.message;
  testing::ExpectHostClean(*sandbox);
}

TEST(Sandbox, CgroupsAreRemovedWithTheSandbox) {
  PONDER_REQUIRE_SANDBOX();
  std::vector<std::string> dirs;
  {
    auto sandbox = MakeSandbox();
    ASSERT_NE(sandbox, nullptr);
    if (sandbox->cgroup_layout() == CgroupLayout::kNone) PONDER_SKIP_OR_FAIL("no cgroups here");
    dirs = sandbox->slot_cgroup_dirs(0);
    ASSERT_FALSE(dirs.empty());
    for (const auto& dir : dirs) EXPECT_TRUE(testing::PathExists(dir)) << dir;
  }
  for (const auto& dir : dirs) EXPECT_FALSE(testing::PathExists(dir)) << dir;
}

}  // namespace
}  // namespace ponder::reward
