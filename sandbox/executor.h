// Running untrusted, model-written programs (HumanEval, MBPP).
//
// An Executor runs one Python program and returns a verdict. The bubblewrap
// executor puts every job in fresh pid/net/ipc/uts/user namespaces with a
// cleared environment, read-only /usr, a size-limited tmpfs as the only
// writable place, rlimits (address space, CPU, processes, file size, open
// files, no core), a seccomp filter and a dedicated unprivileged uid per worker
// slot; a wall clock kills the whole sandbox. A program passes only if it
// exits 0 *and* prints the job's nonce after it ran (an early sys.exit(0) is a
// failure). Design and threat model: ../shared/spec/sandbox.md section 4.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llada {

enum class Verdict { kPass, kFail, kTimeout, kCpuLimit, kMemory, kOutputLimit, kSandboxError };
std::string VerdictName(Verdict verdict);  // "PASS", "FAIL", "TIMEOUT", ...

struct ExecLimits {
  double wall_seconds = 10.0;
  int cpu_seconds = 10;
  int64_t memory_bytes = int64_t{1} << 30;     // RLIMIT_AS
  int64_t tmpfs_bytes = int64_t{64} << 20;     // the only writable place, /tmp
  int64_t output_bytes = int64_t{1} << 20;     // stdout and stderr each (RLIMIT_FSIZE)
  int max_processes = 64;                      // RLIMIT_NPROC for the slot's uid
  int max_open_files = 64;
};

struct ExecJob {
  std::string program;  // Python source
  ExecLimits limits;
};

struct ExecResult {
  Verdict verdict = Verdict::kSandboxError;
  int exit_code = -1;         // bwrap's exit status (128 + signal when killed by one)
  double wall_seconds = 0.0;
  std::string stderr_head;    // the first KiB of stderr, as valid UTF-8
  std::string detail;         // why, for verdicts other than PASS/FAIL
  bool retried = false;       // a first attempt ended in SANDBOX_ERROR and this is the second
};

class Executor {
 public:
  virtual ~Executor() = default;
  // "bwrap+seccomp", "bwrap", or "none" (rlimits only, --unsafe-exec).
  virtual std::string Name() const = 0;
  // `slot` picks the worker's uid and scratch directory: jobs that run at the
  // same time must use different slots. Thread-safe across slots.
  virtual ExecResult Run(const ExecJob& job, int slot) = 0;
  // The uid that jobs of `slot` run as (the harness's own uid when not root).
  virtual int SlotUid(int slot) const = 0;
};

// What the machine allows; a failure is an infrastructure error, never a
// failing sample.
struct SandboxProbe {
  bool ok = false;
  std::string detail;  // what is missing, or what works
};

// Each harness process takes its own block of 64 uids (from its pid), so two
// runs (or parallel test processes) never share a slot's uid: the end-of-job
// cleanup kills everything of that uid, and RLIMIT_NPROC counts per uid.
int DefaultSandboxUidBase();
constexpr int kMaxSandboxSlots = 64;

struct BwrapOptions {
  int uid_base = DefaultSandboxUidBase();  // slot i runs as uid/gid uid_base + i (when root)
  std::string python = "/usr/bin/python3";
  std::string bwrap;          // default: bwrap on PATH
  bool seccomp = true;        // install the seccomp filter (sandbox/seccomp.h)
  std::string scratch_root;   // default: $TMPDIR or /tmp
};

std::unique_ptr<Executor> MakeBwrapExecutor(const BwrapOptions& options = {});

// No namespaces, no seccomp, no read-only file system: rlimits, a cleared
// environment, a scratch working directory and (as root) the slot's uid. For
// machines where bubblewrap cannot run, and only behind --unsafe-exec.
std::unique_ptr<Executor> MakeUnsafeExecutor(const BwrapOptions& options = {});

// Runs a trivial program in the sandbox and reports whether it passed.
SandboxProbe ProbeSandbox(Executor& executor);

// Runs every job on `workers` slots in parallel (a bounded pool pulling from a
// shared queue); results in job order.
std::vector<ExecResult> RunAll(Executor& executor, const std::vector<ExecJob>& jobs, int workers);

// Processes owned by `uid`, from /proc: live ones, and zombies too when
// `count_zombies` (a zombie counts against RLIMIT_NPROC until it is reaped).
int CountProcessesOf(int uid, bool count_zombies);

}  // namespace llada
