// The bubblewrap executor against adversarial programs (../shared/spec/sandbox.md
// section 4.5) and HumanEval's canonical solutions. Skipped only where bwrap is
// not installed (scripts/setup.sh installs it); where it is, it must work.
#include <gtest/gtest.h>

#include <sys/types.h>
#include <unistd.h>

#include <boost/process/search_path.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/text.h"
#include "sandbox/executor.h"
#include "tests/test_util.h"

namespace llada {
namespace {

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (boost::process::search_path("bwrap").empty())
      GTEST_SKIP() << "bubblewrap is not installed (scripts/setup.sh installs it)";
    executor_ = MakeBwrapExecutor();
    const SandboxProbe probe = ProbeSandbox(*executor_);
    ASSERT_TRUE(probe.ok) << probe.detail;
  }
  ExecResult Run(const std::string& program, ExecLimits limits = Quick(), int slot = 1) {
    return executor_->Run({program, limits}, slot);
  }
  static ExecLimits Quick() {
    ExecLimits limits;
    limits.wall_seconds = 5;
    limits.cpu_seconds = 2;
    limits.memory_bytes = int64_t{512} << 20;
    limits.output_bytes = int64_t{64} << 10;
    return limits;
  }
  // Live (not zombie) processes owned by `uid`, from /proc.
  static int ProcessesOf(uid_t uid) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (!IsAsciiDigits(name)) continue;
      std::ifstream status(entry.path() / "status");
      bool owned = false, zombie = false;
      for (std::string line; std::getline(status, line);) {
        if (line.rfind("State:", 0) == 0) zombie = line.find('Z') != std::string::npos;
        if (line.rfind("Uid:", 0) == 0) owned = std::stoul(line.substr(4)) == uid;
      }
      count += owned && !zombie;
    }
    return count;
  }
  std::unique_ptr<Executor> executor_;
};

TEST_F(SandboxTest, PassNeedsExitZeroAndTheChecksToComplete) {
  EXPECT_EQ(Run("assert sum([1, 2]) == 3\nprint('hello')\n").verdict, Verdict::kPass);
  const ExecResult failed = Run("def f():\n    return 2\nassert f() == 3\n");
  EXPECT_EQ(failed.verdict, Verdict::kFail);
  EXPECT_NE(failed.stderr_head.find("AssertionError"), std::string::npos) << failed.stderr_head;
  for (const char* early : {"import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"}) {
    const ExecResult result = Run(early);
    EXPECT_EQ(result.verdict, Verdict::kFail) << early;
    EXPECT_NE(result.detail.find("before the checks"), std::string::npos) << result.detail;
  }
  EXPECT_EQ(Run("input()\n").verdict, Verdict::kFail);  // stdin is empty: EOFError at once
}

TEST_F(SandboxTest, LimitsGiveTheirVerdicts) {
  const ExecResult cpu = Run("while True:\n    pass\n");
  EXPECT_EQ(cpu.verdict, Verdict::kCpuLimit) << cpu.detail << cpu.stderr_head;
  EXPECT_LT(cpu.wall_seconds, 4.5);
  ExecLimits short_wall = Quick();
  short_wall.wall_seconds = 1.5;
  const ExecResult sleeper = Run("import time\ntime.sleep(1e9)\n", short_wall);
  EXPECT_EQ(sleeper.verdict, Verdict::kTimeout);
  EXPECT_LT(sleeper.wall_seconds, 3.0);
  EXPECT_EQ(Run("x = bytearray(8 << 30)\n").verdict, Verdict::kMemory);
  EXPECT_EQ(Run("print('x' * 10**7)\n").verdict, Verdict::kOutputLimit);
  EXPECT_EQ(Run("import sys\nwhile True:\n    sys.stderr.write('y' * 4096)\n").verdict, Verdict::kOutputLimit);
}

TEST_F(SandboxTest, NothingOfTheHostIsReachable) {
  ::setenv("LLADA_CANARY_TOKEN", "s3cret", 1);
  const ExecResult isolated = Run(R"(
import os, socket
assert 'LLADA_CANARY_TOKEN' not in os.environ
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            assert b's3cret' not in open(f'/proc/{pid}/environ', 'rb').read()
        except PermissionError:
            pass
assert not os.path.exists(os.path.expanduser('~/.ssh'))
for path in ['/usr/evil', '/etc/passwd', '/job/x', '../../escape']:
    try:
        open(path, 'w').write('x')
        raise SystemExit('wrote ' + path)
    except OSError:
        pass
open('/tmp/scratch', 'w').write('tmp is writable')
try:
    socket.create_connection(('127.0.0.1', 22), timeout=1)
    raise SystemExit('connected')
except OSError:
    pass
try:
    socket.getaddrinfo('example.com', 80)
    raise SystemExit('resolved')
except OSError:
    pass
)");
  ::unsetenv("LLADA_CANARY_TOKEN");
  EXPECT_EQ(isolated.verdict, Verdict::kPass) << isolated.detail << isolated.stderr_head;
  ExecLimits tiny_tmp = Quick();
  tiny_tmp.tmpfs_bytes = 1 << 20;
  tiny_tmp.output_bytes = 64 << 20;
  const ExecResult full = Run("open('/tmp/big', 'wb').write(b'x' * (8 << 20))\n", tiny_tmp);
  EXPECT_EQ(full.verdict, Verdict::kFail);
  EXPECT_NE(full.stderr_head.find("No space left"), std::string::npos) << full.stderr_head;
}

TEST_F(SandboxTest, BombsAndParentKillersAreContained) {
  const uid_t slot_uid = static_cast<uid_t>(DefaultSandboxUidBase() + 3);
  const ExecResult bomb = Run(R"(
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
)", Quick(), 3);
  EXPECT_NE(bomb.verdict, Verdict::kPass);
  EXPECT_NE(bomb.verdict, Verdict::kSandboxError) << bomb.detail;
  if (::geteuid() == 0) {
    EXPECT_EQ(ProcessesOf(slot_uid), 0);
  }
  const ExecResult daemon = Run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n", Quick(), 3);
  EXPECT_EQ(daemon.verdict, Verdict::kPass);
  if (::geteuid() == 0) {
    EXPECT_EQ(ProcessesOf(slot_uid), 0);  // the double-forked sleeper died with the job
  }
  for (const char* killer : {"import os\nos.kill(os.getppid(), 9)\n", "import os\nos.killpg(0, 9)\n",
                             "import os\nos.kill(-1, 9)\n"}) {
    const ExecResult result = Run(killer);
    EXPECT_NE(result.verdict, Verdict::kSandboxError) << killer << result.detail;
  }
  // This process survived all of the above; so do the other workers.
  std::vector<ExecJob> jobs;
  for (int i = 0; i < 3; ++i) jobs.push_back({"import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", Quick()});
  jobs.push_back({"assert 1 + 1 == 2\n", Quick()});
  const auto results = RunAll(*executor_, jobs, 4);
  EXPECT_EQ(results.back().verdict, Verdict::kPass) << results.back().detail;
}

// HumanEval's canonical solutions, assembled as lm-eval's code_eval does
// (prompt + completion + "\n" + test + "\ncheck(entry_point)"), all pass; one
// broken assertion fails.
TEST_F(SandboxTest, HumanevalCanonicalSolutionsPass) {
  LLADA_REQUIRE_SHARED();
  const std::string data = ReadInputFile(testing::SharedDir() / "data" / "humaneval" / "HumanEval.jsonl.gz");
  std::vector<ExecJob> jobs;
  std::vector<std::string> ids;
  for (const auto& line : Split(data, '\n')) {
    if (PyStrip(line).empty()) continue;
    const auto problem = nlohmann::json::parse(line);
    ExecLimits limits = Quick();
    limits.wall_seconds = 20;
    limits.cpu_seconds = 10;
    jobs.push_back({problem.at("prompt").get<std::string>() + problem.at("canonical_solution").get<std::string>() +
                        "\n" + problem.at("test").get<std::string>() + "\ncheck(" +
                        problem.at("entry_point").get<std::string>() + ")",
                    limits});
    ids.push_back(problem.at("task_id"));
  }
  ASSERT_EQ(jobs.size(), 164u);
  const auto results = RunAll(*executor_, jobs, 2);
  size_t passed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    passed += results[i].verdict == Verdict::kPass;
    EXPECT_EQ(results[i].verdict, Verdict::kPass) << ids[i] << ": " << results[i].detail << results[i].stderr_head;
  }
  EXPECT_EQ(passed, 164u);
  ExecJob broken = jobs[0];
  broken.program = ReplaceAll(broken.program, "== True", "== False");
  EXPECT_EQ(executor_->Run(broken, 1).verdict, Verdict::kFail);
}

}  // namespace
}  // namespace llada
