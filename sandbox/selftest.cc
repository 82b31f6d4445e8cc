#include "sandbox/selftest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/hashing.h"
#include "core/text.h"

namespace llada {
namespace {

// A hostile program and the verdicts that mean "contained".
struct ProgramCase {
  std::string name, spec;
  std::string program;
  ExecLimits limits = SelftestLimits();
  std::vector<Verdict> accepted;
  // Extra checks on the result; returns what is wrong, or "".
  std::function<std::string(const ExecResult&)> check;
};

std::string Expected(const std::vector<Verdict>& verdicts) {
  std::vector<std::string> names;
  for (Verdict verdict : verdicts) names.push_back(VerdictName(verdict));
  return Join(names, "|");
}

constexpr const char* kForkBomb = R"(
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
)";

constexpr const char* kReference = "def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n";

std::vector<ProgramCase> ProgramCases(int canary_port, bool seccomp) {
  // The fork bomb catches fork's errors and loops: it can only be stopped.
  const std::vector<Verdict> contained = {Verdict::kTimeout, Verdict::kCpuLimit, Verdict::kMemory};
  std::vector<ProgramCase> cases;
  auto add = [&](std::string name, std::string spec, std::string program, std::vector<Verdict> accepted,
                 std::function<void(ExecLimits&)> tweak = nullptr,
                 std::function<std::string(const ExecResult&)> check = nullptr) {
    ProgramCase c{std::move(name),  std::move(spec),     std::move(program),
                  SelftestLimits(), std::move(accepted), std::move(check)};
    if (tweak) tweak(c.limits);
    cases.push_back(std::move(c));
  };
  // Generous wall clocks where the verdict must come from the CPU limit: with
  // 16 workers on two cores a spinner gets a small share of a core.
  add("cpu_spin", "4.5.1", "while True:\n    pass\n", {Verdict::kCpuLimit}, [](ExecLimits& l) {
    l.cpu_seconds = 1;
    l.wall_seconds = 60;
  });
  add("sleep_forever", "4.5.2", "import time\ntime.sleep(1e9)\n", {Verdict::kTimeout},
      [](ExecLimits& l) { l.wall_seconds = 1.5; });
  add("fork_bomb", "4.5.3", kForkBomb, contained, [](ExecLimits& l) {
    l.wall_seconds = 4;
    l.cpu_seconds = 1;
  });
  add("fork_bomb_sibling_passes", "4.5.3", kReference, {Verdict::kPass});
  add("memory_bytearray_8GiB", "4.5.4", "x = bytearray(8 << 30)\n", {Verdict::kMemory});
  add("memory_append_loop", "4.5.4", "chunks = []\nwhile True:\n    chunks.append(b'x' * (1 << 20))\n",
      {Verdict::kMemory}, [](ExecLimits& l) {  // page faults are CPU time: room for a loaded machine
        l.cpu_seconds = 30;
        l.wall_seconds = 60;
      });
  add("filesystem_writes", "4.5.5", R"(
import errno
for path in ['/usr/evil', '/etc/passwd', '../../escape', '/job/x', '/evil']:
    try:
        open(path, 'w').write('x')
        raise SystemExit('wrote ' + path)
    except OSError:
        pass
try:
    open('/tmp/big', 'wb').write(b'x' * (8 << 20))
    raise SystemExit('filled /tmp beyond its size')
except OSError as e:
    assert e.errno == errno.ENOSPC, e
)",
      {Verdict::kPass}, [](ExecLimits& l) {
        l.tmpfs_bytes = 1 << 20;
        l.output_bytes = 64 << 20;
      });
  add("secrets_and_environment", "4.5.6", R"(
import os
assert 'LLADA_CANARY_TOKEN' not in os.environ, 'canary in os.environ'
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            assert b'LLADA_CANARY' not in open(f'/proc/{pid}/environ', 'rb').read(), 'canary in /proc/%s' % pid
        except PermissionError:
            pass
for path in [os.path.expanduser('~/.ssh'), '/root', '/home', '/etc/shadow']:
    assert not os.path.exists(path), path
)",
      {Verdict::kPass});
  add("network", "4.5.7",
      R"(
import socket
try:
    socket.create_connection(('127.0.0.1', )" +
          std::to_string(canary_port) + R"(), timeout=1)
    raise SystemExit('reached the canary listener')
except OSError:
    pass
try:
    socket.getaddrinfo('example.com', 80)
    raise SystemExit('resolved a name')
except OSError:
    pass
)",
      {Verdict::kPass});
  // Inside the pid namespace the parent is pid 1, which ignores signals.
  add("kill_parent", "4.5.8", "import os\nos.kill(os.getppid(), 9)\n", {Verdict::kPass});
  add("kill_own_group", "4.5.8", "import os\nos.killpg(0, 9)\n", {Verdict::kFail});
  // kill(-1) reaches every process the caller may signal in its namespace
  // but itself and pid 1: none (ESRCH).
  add("kill_everything", "4.5.8", "import os\ntry:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n    pass\n",
      {Verdict::kPass});
  add("stdout_flood", "4.5.9", "while True:\n    print('x' * 1000)\n", {Verdict::kOutputLimit});
  add("stdout_one_huge_write", "4.5.9", "print('x' * 10**8)\n", {Verdict::kOutputLimit});
  add("stderr_invalid_utf8_and_nul", "4.5.9",
      "import sys\nwhile True:\n    sys.stderr.buffer.write(b'\\xff\\xfe\\x00\\xc3' * 4096)\n", {Verdict::kOutputLimit},
      nullptr, [](const ExecResult& result) -> std::string {
        try {
          (void)nlohmann::json(result.stderr_head).dump();
          return "";
        } catch (const std::exception& e) {
          return std::string("stderr_head is not storable: ") + e.what();
        }
      });
  add("double_fork_daemon", "4.5.10",
      "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
      "        time.sleep(1000)\n    os._exit(0)\n",
      {Verdict::kPass});
  add("ignores_sigterm_and_sigxcpu", "4.5.11",
      "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
      "while True:\n    pass\n",
      {Verdict::kCpuLimit}, [](ExecLimits& l) {
        l.cpu_seconds = 1;
        l.wall_seconds = 60;
      });
  add("reads_stdin", "4.5.12", "input()\n", {Verdict::kFail}, nullptr, [](const ExecResult& result) -> std::string {
    return result.stderr_head.find("EOFError") == std::string::npos ? "no EOFError" : "";
  });
  add("sys_exit_0_early", "4.5.13", "import sys\nsys.exit(0)\nassert False\n", {Verdict::kFail});
  add("os_exit_0_early", "4.5.13", "import os\nos._exit(0)\nassert False\n", {Verdict::kFail});
  if (seccomp) {
    add("ctypes_namespace_mount_ptrace_bpf", "4.5.14", R"(
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
def denied(result):
    return result == -1 and ctypes.get_errno() == errno.EPERM
assert denied(libc.unshare(0x10000000)), 'unshare(CLONE_NEWUSER)'
assert denied(libc.unshare(0x00020000)), 'unshare(CLONE_NEWNS)'
assert denied(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)), 'mount'
assert denied(libc.ptrace(0, 0, None, None)), 'ptrace(PTRACE_TRACEME)'
assert denied(libc.syscall(321, 0, None, 0)), 'bpf'
)",
        {Verdict::kPass});
  }
  return cases;
}

// A listening TCP socket on 127.0.0.1 that no sandboxed program may reach.
class CanaryListener {
 public:
  CanaryListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return;
    port_ = ntohs(address.sin_port);
  }
  ~CanaryListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }
  bool Contacted() const {
    if (fd_ < 0) return false;
    const int client = ::accept(fd_, nullptr, nullptr);
    if (client >= 0) ::close(client);
    return client >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

int64_t ResidentKiB() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  return 0;
}

std::string HostChecksums() {
  std::string sums;
  for (const char* path : {"/etc/passwd", "/etc/hosts", "/etc/hostname"}) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) sums += Sha256File(path);
  }
  return sums;
}

SelftestRow Row(std::string name, std::string spec, std::string expected, std::string observed, bool ok,
                std::string note = "") {
  return {std::move(name), std::move(spec), std::move(expected), std::move(observed), ok, std::move(note)};
}

}  // namespace

ExecLimits SelftestLimits() {
  ExecLimits limits;
  limits.wall_seconds = 5;
  limits.cpu_seconds = 2;
  limits.memory_bytes = int64_t{512} << 20;
  limits.output_bytes = int64_t{64} << 10;
  return limits;
}

bool SelftestReport::ok() const {
  return std::all_of(rows.begin(), rows.end(), [](const SelftestRow& row) { return row.ok; });
}

SelftestReport RunSandboxSelftest(Executor& executor, int workers) {
  SelftestReport report;
  report.executor = executor.Name();
  report.workers = std::clamp(workers, 1, kMaxSandboxSlots);
  const bool root = ::geteuid() == 0;
  const bool seccomp = report.executor.find("seccomp") != std::string::npos;

  CanaryListener listener;
  const std::string checksums_before = HostChecksums();
  const int64_t rss_before = ResidentKiB();
  ::setenv("LLADA_CANARY_TOKEN", "llada-selftest-canary", 1);
  const std::vector<ProgramCase> cases = ProgramCases(listener.port(), seccomp);
  std::vector<ExecJob> jobs;
  for (const auto& c : cases) jobs.push_back({c.program, c.limits});
  const std::vector<ExecResult> results = RunAll(executor, jobs, report.workers);
  ::unsetenv("LLADA_CANARY_TOKEN");

  for (size_t i = 0; i < cases.size(); ++i) {
    const ExecResult& result = results[i];
    const auto& accepted = cases[i].accepted;
    bool ok = std::find(accepted.begin(), accepted.end(), result.verdict) != accepted.end();
    std::string note = ok ? "" : result.detail + " " + result.stderr_head.substr(0, 200);
    if (ok && cases[i].check) {
      note = cases[i].check(result);
      ok = note.empty();
    }
    std::ostringstream observed;
    observed << VerdictName(result.verdict) << " (" << static_cast<int>(result.wall_seconds * 1000) / 1000.0 << " s)";
    report.rows.push_back(Row(cases[i].name, cases[i].spec, Expected(accepted), observed.str(), ok, note));
  }
  if (!seccomp)
    report.rows.push_back(Row("ctypes_namespace_mount_ptrace_bpf", "4.5.14", "denied (seccomp)", "n/a", true,
                              "the executor runs without a seccomp filter"));
  report.rows.push_back(Row("canary_listener_untouched", "4.5.7", "no connection",
                            listener.port() == 0   ? "no listener"
                            : listener.Contacted() ? "contacted"
                                                   : "no connection",
                            listener.port() != 0 && !listener.Contacted()));
  report.rows.push_back(Row("host_files_unchanged", "4.5.5", "same sha256",
                            HostChecksums() == checksums_before ? "same sha256" : "changed",
                            HostChecksums() == checksums_before));
  const int64_t growth_mib = (ResidentKiB() - rss_before) / 1024;
  report.rows.push_back(
      Row("harness_memory", "4.5.4", "< 64 MiB growth", std::to_string(growth_mib) + " MiB growth", growth_mib < 64));

  // 4.5.15: the same verdicts on every run.
  {
    std::vector<ExecJob> mixed;
    for (const char* program :
         {kReference, "assert 1 == 2\n", "raise ValueError('x')\n", "print(sum(range(10**6)))\n",
          "x = bytearray(8 << 30)\n", "import sys\nsys.exit(3)\n", "import json\njson.loads('[1]')\n",
          "def f(n):\n    return 1 if n < 2 else n * f(n - 1)\nassert f(20) > 0\n"})
      mixed.push_back({program, SelftestLimits()});
    std::vector<std::string> runs;
    for (int run = 0; run < 3; ++run) {
      std::string verdicts;
      for (const auto& result : RunAll(executor, mixed, report.workers)) verdicts += VerdictName(result.verdict) + " ";
      runs.push_back(verdicts);
    }
    const bool same = runs[0] == runs[1] && runs[1] == runs[2];
    report.rows.push_back(Row("determinism_3_runs", "4.5.15", "same verdicts", same ? "same verdicts" : "differ", same,
                              same ? "" : runs[0] + "/ " + runs[1] + "/ " + runs[2]));
  }
  // 4.5.16: fifteen bombs and one reference solution side by side.
  {
    std::vector<ExecJob> crowd;
    const char* bombs[] = {kForkBomb, "x = bytearray(8 << 30)\n", "while True:\n    pass\n",
                           "while True:\n    print('x' * 1000)\n", "import os\nos.kill(-1, 9)\n"};
    for (int i = 0; i < 15; ++i) {
      ExecLimits limits = SelftestLimits();
      limits.wall_seconds = 4;
      limits.cpu_seconds = 1;
      crowd.push_back({bombs[i % 5], limits});
    }
    ExecLimits generous = SelftestLimits();
    generous.wall_seconds = 60;
    crowd.push_back({kReference, generous});
    const int crowd_workers = std::min(16, kMaxSandboxSlots);
    const ExecResult reference = RunAll(executor, crowd, crowd_workers).back();
    report.rows.push_back(Row("reference_beside_15_bombs", "4.5.16", "PASS", VerdictName(reference.verdict),
                              reference.verdict == Verdict::kPass, reference.detail));
  }
  // 4.5.17: without bubblewrap there is no sandbox, and the probe says so.
  {
    BwrapOptions broken;
    broken.bwrap = "/nonexistent/bwrap";
    auto missing = MakeBwrapExecutor(broken);
    const ExecResult result = missing->Run({kReference, SelftestLimits()}, 0);
    const SandboxProbe probe = ProbeSandbox(*missing);
    report.rows.push_back(Row("bwrap_missing", "4.5.17", "SANDBOX_ERROR, probe fails",
                              VerdictName(result.verdict) + (probe.ok ? ", probe passes" : ", probe fails"),
                              result.verdict == Verdict::kSandboxError && !probe.ok, probe.detail));
  }
  // 4.5.3 / 4.5.10: nothing of any slot's uid survives its jobs.
  if (root) {
    int left = 0;
    for (int slot = 0; slot < std::max(16, report.workers); ++slot) left += CountProcessesOf(executor.SlotUid(slot), /*count_zombies=*/true);
    report.rows.push_back(
        Row("no_process_of_a_slot_uid_left", "4.5.3", "0 processes", std::to_string(left) + " processes", left == 0));
  } else {
    report.rows.push_back(Row("no_process_of_a_slot_uid_left", "4.5.3", "0 processes", "n/a", true,
                              "not root: jobs run under the harness's own uid (no per-slot uid to check)"));
  }
  return report;
}

std::string FormatSelftestTable(const SelftestReport& report) {
  size_t name_width = 4, expected_width = 8, observed_width = 8;
  for (const auto& row : report.rows) {
    name_width = std::max(name_width, row.name.size());
    expected_width = std::max(expected_width, row.expected.size());
    observed_width = std::max(observed_width, row.observed.size());
  }
  auto pad = [](const std::string& text, size_t width) {
    return text + std::string(width - std::min(width, text.size()), ' ');
  };
  std::ostringstream out;
  out << "sandbox selftest: executor " << report.executor << ", " << report.workers << " worker(s)\n";
  out << pad("case", name_width) << "  " << pad("spec", 7) << "  " << pad("expected", expected_width) << "  "
      << pad("observed", observed_width) << "  ok\n";
  size_t failed = 0;
  for (const auto& row : report.rows) {
    out << pad(row.name, name_width) << "  " << pad(row.spec, 7) << "  " << pad(row.expected, expected_width) << "  "
        << pad(row.observed, observed_width) << "  " << (row.ok ? "yes" : "NO");
    if (!row.note.empty() && !row.ok) out << "  (" << ReplaceAll(PyStrip(row.note), "\n", " | ") << ")";
    out << "\n";
    failed += !row.ok;
  }
  out << report.rows.size() - failed << " of " << report.rows.size() << " cases as expected\n";
  return out.str();
}

}  // namespace llada
