#include "sandbox/executor.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "core/text.h"
#include "sandbox/seccomp.h"

namespace llada {
namespace bp = boost::process;

std::string VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "PASS";
    case Verdict::kFail: return "FAIL";
    case Verdict::kTimeout: return "TIMEOUT";
    case Verdict::kCpuLimit: return "CPU_LIMIT";
    case Verdict::kMemory: return "MEMORY";
    case Verdict::kOutputLimit: return "OUTPUT_LIMIT";
    case Verdict::kSandboxError: return "SANDBOX_ERROR";
  }
  return "UNKNOWN";
}

namespace {

// Exit statuses the job's launcher uses for its own failures. They only
// describe a SANDBOX_ERROR; what decides one is the "started" pipe (see Run):
// a program may exit with any of these itself.
constexpr int kReaperFailed = 120;
constexpr int kUidSwitchFailed = 121;
constexpr int kDescriptorsFailed = 122;
constexpr int kWorkDirFailed = 123;

// Closes every descriptor from `first` up (close_range where the kernel has
// it). Async-signal-safe.
void CloseDescriptorsFrom(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  struct rlimit files {};
  const rlim_t last = ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY ? files.rlim_cur : 4096;
  for (rlim_t fd = static_cast<rlim_t>(first); fd < last; ++fd) ::close(static_cast<int>(fd));
}

// The job's reaper. Called in Boost.Process's child between fork and exec; it
// forks once more: the new child returns and goes on to exec the job, this
// process stays behind as a child subreaper and never returns.
//
// Why: bwrap returns as soon as its pid 1 reports the program's status, and
// --die-with-parent then kills pid 1, which the kernel reparents to the nearest
// subreaper. Without one that is the machine's init, which on some VMs reaps
// once a second; until then the zombies count against the slot uid's
// RLIMIT_NPROC, and a few dozen jobs later bwrap cannot fork ("Can't fork for
// pid 1"). The reaper reaps the job and every orphan it leaves, then exits
// with the job's status (128 + signal when a signal ended it). SIGTERM from the
// harness (its wall clock) makes it SIGKILL the job first.
//
// Async-signal-safe calls only: the harness is multithreaded.
void RunJobUnderReaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) _exit(kReaperFailed);
  sigset_t wake, previous;
  sigemptyset(&wake);
  sigaddset(&wake, SIGTERM);
  sigaddset(&wake, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &wake, &previous) != 0) _exit(kReaperFailed);
  const pid_t job = ::fork();
  if (job < 0) _exit(kReaperFailed);
  if (job == 0) {
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    return;  // the job: on to the limits and exec
  }
  // Boost.Process learns that exec succeeded when its error pipe closes; our
  // copy of it (and of everything else) must not hold that up.
  CloseDescriptorsFrom(3);
  int job_status = 0;
  bool job_done = false;
  while (!job_done) {
    const struct timespec tick = {0, 100 * 1000 * 1000};
    if (::sigtimedwait(&wake, nullptr, &tick) == SIGTERM) ::kill(job, SIGKILL);
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid == job) {
        job_status = status;
        job_done = true;
      }
    }
  }
  // Orphans of the job (bwrap's pid 1 dies with bwrap): reap them as they
  // die, for at most two seconds; whatever is left is the harness's
  // end-of-job cleanup's.
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const time_t give_up = now.tv_sec + 2;
  while (true) {
    const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
    if (pid < 0) break;  // ECHILD: nothing left
    if (pid > 0) continue;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > give_up) break;
    const struct timespec pause = {0, 1000 * 1000};
    ::nanosleep(&pause, nullptr);
  }
  _exit(WIFSIGNALED(job_status) ? 128 + WTERMSIG(job_status) : WEXITSTATUS(job_status));
}

// Runs in the child between fork and exec: async-signal-safe calls only.
// The reaper first (it stays as root, outside the limits), then, in the job:
// limits (they bind the uid we switch to), the uid, and the parent-death
// signal so nothing outlives its reaper, and the reaper nothing outlives the
// harness.
struct LimitAndDropPrivileges : bp::extend::handler {
  ExecLimits limits;
  uid_t uid = 0;
  bool switch_uid = false;
  int seccomp_fd = -1;  // close-on-exec in the harness; inherited by bwrap only (`--seccomp <fd>`)
  int started_fd = -1;  // the "started" pipe's write end: close-on-exec in the harness, inherited by the job
  std::string work_dir;  // chdir here first (the unsafe executor)

  template <class Executor>
  void on_exec_setup(Executor&) const {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    RunJobUnderReaper();
    if (seccomp_fd >= 0 && fcntl(seccomp_fd, F_SETFD, 0) != 0) _exit(kDescriptorsFailed);
    if (started_fd >= 0 && fcntl(started_fd, F_SETFD, 0) != 0) _exit(kDescriptorsFailed);
    if (!work_dir.empty() && chdir(work_dir.c_str()) != 0) _exit(kWorkDirFailed);
    auto limit = [](int resource, rlim_t soft, rlim_t hard) {
      const struct rlimit value = {soft, hard};
      setrlimit(resource, &value);
    };
    limit(RLIMIT_AS, static_cast<rlim_t>(limits.memory_bytes), static_cast<rlim_t>(limits.memory_bytes));
    // hard = soft + 1: SIGXCPU first (a CPU_LIMIT verdict), SIGKILL a second later.
    limit(RLIMIT_CPU, static_cast<rlim_t>(limits.cpu_seconds), static_cast<rlim_t>(limits.cpu_seconds + 1));
    limit(RLIMIT_NPROC, static_cast<rlim_t>(limits.max_processes), static_cast<rlim_t>(limits.max_processes));
    limit(RLIMIT_FSIZE, static_cast<rlim_t>(limits.output_bytes), static_cast<rlim_t>(limits.output_bytes));
    limit(RLIMIT_NOFILE, static_cast<rlim_t>(limits.max_open_files), static_cast<rlim_t>(limits.max_open_files));
    limit(RLIMIT_CORE, 0, 0);
    if (switch_uid) {
      if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) _exit(kUidSwitchFailed);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
};

std::string RandomNonce() {
  std::random_device device;
  std::ostringstream out;
  for (int i = 0; i < 4; ++i) out << std::hex << device();
  return "LLADA-EVAL-DONE-" + out.str();
}

std::string ReadHead(const std::filesystem::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string text(limit, '\0');
  in.read(text.data(), static_cast<std::streamsize>(limit));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

std::string ReadTail(const std::filesystem::path& path, size_t limit) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return "";
  std::ifstream in(path, std::ios::binary);
  const auto start = size > limit ? size - limit : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw InternalError("sandbox: cannot write " + path.string());
}

}  // namespace

int CountProcessesOf(int uid, bool count_zombies) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (!IsAsciiDigits(name)) continue;
    struct stat info {};
    if (::stat(entry.path().c_str(), &info) != 0 || info.st_uid != static_cast<uid_t>(uid)) continue;
    // A zombie is already dead (its parent has yet to reap it), but it still
    // counts against the uid's RLIMIT_NPROC.
    std::ifstream stat_file(entry.path() / "stat");
    std::string line;
    std::getline(stat_file, line);
    const size_t paren = line.rfind(')');
    if (!count_zombies && paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') continue;
    ++count;
  }
  return count;
}

namespace {

// The end of every job: nothing of the slot's uid survives it (a daemon that
// escaped the namespace teardown, a fork bomb still dying). A helper child
// switches to the uid and sends SIGKILL to everything that uid may signal,
// until none is left (at most ~2 s). Then it waits (at most ~2 s more) for the
// zombies to be reaped, since they too count against the next job's
// RLIMIT_NPROC; the job's reaper normally has reaped them all already.
void KillEverythingOf(uid_t uid) {
  for (int attempt = 0; attempt < 200 && CountProcessesOf(static_cast<int>(uid), false) > 0; ++attempt) {
    const pid_t helper = ::fork();
    if (helper == 0) {
      if (setgroups(0, nullptr) == 0 && setgid(uid) == 0 && setuid(uid) == 0) ::kill(-1, SIGKILL);
      _exit(0);
    }
    if (helper > 0) ::waitpid(helper, nullptr, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int attempt = 0; attempt < 200 && CountProcessesOf(static_cast<int>(uid), true) > 0; ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

// Runs python3 on the job's files, inside bubblewrap or (unsafe) directly.
class ProcessExecutor : public Executor {
 public:
  ProcessExecutor(BwrapOptions options, bool isolate) : options_(std::move(options)), isolate_(isolate) {
    bwrap_ = !options_.bwrap.empty() ? options_.bwrap : bp::search_path("bwrap").string();
    if (isolate_ && options_.seccomp) {
      const SeccompFilter filter = BuildSeccompFilter();
      seccomp_bpf_ = filter.bpf;
      seccomp_unavailable_ = filter.unavailable;
    }
    std::filesystem::path root = options_.scratch_root;
    if (root.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      root = tmp && *tmp ? tmp : "/tmp";
    }
    scratch_ = root / ("llada-sandbox-" + std::to_string(::getpid()));
  }
  ~ProcessExecutor() override {
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  std::string Name() const override {
    if (!isolate_) return "none";
    return seccomp_bpf_.empty() ? "bwrap" : "bwrap+seccomp";
  }

  int SlotUid(int slot) const override {
    return ::geteuid() == 0 ? options_.uid_base + slot : static_cast<int>(::geteuid());
  }

  ExecResult Run(const ExecJob& job, int slot) override {
    ExecResult result;
    if (slot < 0 || slot >= kMaxSandboxSlots) throw InternalError("sandbox: slot out of range");
    if (isolate_ && options_.seccomp && seccomp_bpf_.empty()) {
      result.detail = "seccomp filter unavailable: " + seccomp_unavailable_;
      return result;
    }
    if (isolate_ && (bwrap_.empty() || ::access(bwrap_.c_str(), X_OK) != 0)) {
      result.detail = bwrap_.empty() ? "bubblewrap (bwrap) not found on PATH" : "bubblewrap not executable: " + bwrap_;
      return result;
    }
    // The job's files: readable by the slot's uid (bound read-only at /job
    // in the sandbox); the unsafe executor's working directory is writable.
    const auto slot_dir = scratch_ / ("slot" + std::to_string(slot));
    const auto job_dir = slot_dir / "job", out_dir = slot_dir / "out", work_dir = slot_dir / "work";
    std::error_code ec;
    std::filesystem::remove_all(slot_dir, ec);
    std::filesystem::create_directories(job_dir);
    std::filesystem::create_directories(out_dir);
    for (const auto& dir : {scratch_, slot_dir, job_dir}) ::chmod(dir.c_str(), 0755);
    const uid_t uid = static_cast<uid_t>(SlotUid(slot));
    const bool root = ::geteuid() == 0;
    if (!isolate_) {
      std::filesystem::create_directories(work_dir);
      if (root && ::chown(work_dir.c_str(), uid, uid) != 0) {
        result.detail = "cannot hand " + work_dir.string() + " to uid " + std::to_string(uid);
        return result;
      }
    }
    const std::string nonce = RandomNonce();
    const std::string job_path = isolate_ ? "/job" : job_dir.string();
    // The "started" pipe: run.py writes one byte to it and closes it before
    // the program's first line. No byte means the sandbox failed to start the
    // program (a SANDBOX_ERROR, the document unscored); with the byte, any
    // failure is the program's own, however it looks (a program printing
    // "bwrap: ..." and exiting 1, or exiting 120, cannot pass as the sandbox's
    // failure and so drop out of the average).
    int started_pipe[2] = {-1, -1};
    if (::pipe2(started_pipe, O_CLOEXEC) != 0) {
      result.detail = "cannot create a pipe";
      return result;
    }
    struct PipeCloser {
      int* fds;
      ~PipeCloser() {
        for (int i = 0; i < 2; ++i)
          if (fds[i] >= 0) ::close(fds[i]);
      }
    } pipe_closer{started_pipe};
    WriteText(job_dir / "program.py", job.program);
    WriteText(job_dir / "run.py",
              "import os, sys\n"
              "os.write(" + std::to_string(started_pipe[1]) + ", b'S')\n"
              "os.close(" + std::to_string(started_pipe[1]) + ")\n"
              "source = open('" + job_path + "/program.py', encoding='utf-8').read()\n"
              "exec(compile(source, '" + job_path + "/program.py', 'exec'), {'__name__': '__main__'})\n"
              "sys.stdout.flush()\n"
              "print('" + nonce + "')\n");
    for (const char* name : {"program.py", "run.py"}) ::chmod((job_dir / name).c_str(), 0644);

    LimitAndDropPrivileges setup;
    setup.started_fd = started_pipe[1];
    setup.limits = job.limits;
    setup.uid = uid;
    setup.switch_uid = root;
    std::string command;
    std::vector<std::string> args;
    int seccomp_fd = -1;
    if (isolate_) {
      command = bwrap_;
      const std::string id = std::to_string(uid);
      args = {"--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
              "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "PYTHONHASHSEED", "0",
              "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
              "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
              "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
              "--size", std::to_string(job.limits.tmpfs_bytes), "--tmpfs", "/tmp",
              "--ro-bind", job_dir.string(), "/job", "--remount-ro", "/", "--chdir", "/tmp",
              "--uid", id, "--gid", id};
      if (!seccomp_bpf_.empty()) {
        // A fresh descriptor per job: bwrap reads it to the end.
        seccomp_fd = memfd_create("llada-seccomp", MFD_CLOEXEC);
        if (seccomp_fd < 0 || ::write(seccomp_fd, seccomp_bpf_.data(), seccomp_bpf_.size()) !=
                                  static_cast<ssize_t>(seccomp_bpf_.size()) ||
            ::lseek(seccomp_fd, 0, SEEK_SET) != 0) {
          if (seccomp_fd >= 0) ::close(seccomp_fd);
          result.detail = "cannot hand the seccomp filter to bwrap";
          return result;
        }
        setup.seccomp_fd = seccomp_fd;
        // bwrap reads the filter from the descriptor as it is: no fixed number
        // that another descriptor (with many workers, many files) could hold.
        args.insert(args.end(), {"--seccomp", std::to_string(seccomp_fd)});
      }
      args.insert(args.end(), {options_.python, "-I", "-S", "/job/run.py"});
    } else {
      command = options_.python;
      setup.work_dir = work_dir.string();
      args = {"-I", "-S", (job_dir / "run.py").string()};
    }
    FILE* out = std::fopen((out_dir / "stdout").c_str(), "wb");
    FILE* err = std::fopen((out_dir / "stderr").c_str(), "wb");
    auto close_all = [&] {
      if (out) std::fclose(out);
      if (err) std::fclose(err);
      if (seccomp_fd >= 0) ::close(seccomp_fd);
      if (started_pipe[1] >= 0) ::close(started_pipe[1]);
      out = err = nullptr;
      seccomp_fd = started_pipe[1] = -1;
    };
    if (!out || !err) {
      close_all();
      result.detail = "cannot create the output files in " + out_dir.string();
      return result;
    }
    const auto start = std::chrono::steady_clock::now();
    bool timed_out = false;
    int status = 0;
    try {
      // The process starts with an empty environment: bwrap's pid-1 process is
      // visible inside the sandbox, and /proc/1/environ would otherwise show
      // the harness's variables (tokens, paths) to the program.
      bp::environment empty;
      bp::child child(command, args, empty, bp::std_in < bp::null, bp::std_out > out, bp::std_err > err, setup);
      close_all();
      const auto deadline = start + std::chrono::duration<double>(job.limits.wall_seconds);
      // Poll rather than child::wait_for, which Boost 1.74 implements with
      // signal handling that is unreliable in multithreaded programs.
      // Past the deadline the job's reaper is told to kill the job (bwrap's
      // --die-with-parent takes the sandbox with it) and reap it; if the
      // reaper itself does not exit within a grace period it is killed.
      const auto grace = std::chrono::seconds(5);
      bool killed = false;
      while (child.running()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline + grace) {
          killed = true;
          child.terminate();
          break;
        }
        if (now >= deadline && !timed_out) {
          timed_out = true;
          ::kill(child.id(), SIGTERM);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!killed) child.wait();
      // bwrap reports a signalled program as 128 + signal; a directly run
      // one (the unsafe executor) is decoded the same way.
      const int raw = child.native_exit_code();
      status = WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : WEXITSTATUS(raw);
    } catch (const std::exception& e) {
      close_all();
      result.detail = "cannot launch " + command + ": " + e.what();
      return result;
    }
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char started_byte = 0;
    ::fcntl(started_pipe[0], F_SETFL, O_NONBLOCK);
    const bool started = ::read(started_pipe[0], &started_byte, 1) == 1 && started_byte == 'S';
    if (root) KillEverythingOf(uid);
    result.exit_code = status;
    result.stderr_head = ToValidUtf8(ReadHead(out_dir / "stderr", 1024));
    const std::string stdout_tail = ReadTail(out_dir / "stdout", 256);
    const auto stdout_size = std::filesystem::file_size(out_dir / "stdout", ec);
    const auto stderr_size = std::filesystem::file_size(out_dir / "stderr", ec);
    const std::string stderr_tail = ReadTail(out_dir / "stderr", 4096);
    std::filesystem::remove_all(slot_dir, ec);

    if (timed_out) {
      result.verdict = Verdict::kTimeout;
      result.detail = "wall clock limit of " + FormatSeconds(job.limits.wall_seconds);
    } else if (!started) {
      result.verdict = Verdict::kSandboxError;
      result.detail = status == kReaperFailed       ? std::string("could not start the job's reaper")
                      : status == kUidSwitchFailed  ? "could not switch to uid " + std::to_string(uid)
                      : status == kDescriptorsFailed  ? "could not pass descriptors to the sandbox"
                      : status == kWorkDirFailed    ? "could not enter " + work_dir.string()
                      : !result.stderr_head.empty() ? result.stderr_head
                                                    : "the program never started (exit status " +
                                                          std::to_string(status) + ")";
    } else if (status == 128 + SIGXCPU) {
      result.verdict = Verdict::kCpuLimit;
      result.detail = "CPU limit of " + std::to_string(job.limits.cpu_seconds) + " s";
    } else if (status == 128 + SIGKILL && result.wall_seconds >= job.limits.cpu_seconds) {
      // SIGXCPU ignored: the hard limit's SIGKILL a second later.
      result.verdict = Verdict::kCpuLimit;
      result.detail = "killed at the hard CPU limit of " + std::to_string(job.limits.cpu_seconds + 1) + " s";
    } else if (status == 128 + SIGXFSZ || static_cast<int64_t>(stdout_size) >= job.limits.output_bytes ||
               static_cast<int64_t>(stderr_size) >= job.limits.output_bytes) {
      result.verdict = Verdict::kOutputLimit;
      result.detail = "output limit of " + std::to_string(job.limits.output_bytes) + " bytes";
    } else if (stderr_tail.find("MemoryError") != std::string::npos) {
      result.verdict = Verdict::kMemory;
      result.detail = "address-space limit of " + std::to_string(job.limits.memory_bytes) + " bytes";
    } else {
      // PASS needs exit 0 and the nonce as the last line: an early sys.exit(0)
      // or os._exit(0) never reaches it.
      const bool nonce_printed = stdout_tail.size() >= nonce.size() + 1 &&
                                 stdout_tail.compare(stdout_tail.size() - nonce.size() - 1, nonce.size(), nonce) == 0;
      result.verdict = status == 0 && nonce_printed ? Verdict::kPass : Verdict::kFail;
      if (status == 0 && !nonce_printed) result.detail = "exited 0 before the checks completed";
    }
    return result;
  }

 private:
  static std::string FormatSeconds(double seconds) {
    std::ostringstream out;
    out << seconds << " s";
    return out.str();
  }

  BwrapOptions options_;
  bool isolate_;
  std::string bwrap_;
  std::string seccomp_bpf_, seccomp_unavailable_;
  std::filesystem::path scratch_;
};

}  // namespace

int DefaultSandboxUidBase() { return 200000 + (static_cast<int>(::getpid()) % 100000) * 64; }

std::unique_ptr<Executor> MakeBwrapExecutor(const BwrapOptions& options) {
  return std::make_unique<ProcessExecutor>(options, /*isolate=*/true);
}

std::unique_ptr<Executor> MakeUnsafeExecutor(const BwrapOptions& options) {
  return std::make_unique<ProcessExecutor>(options, /*isolate=*/false);
}

SandboxProbe ProbeSandbox(Executor& executor) {
  SandboxProbe probe;
  ExecJob job;
  job.program = "import os\nassert 'HOME' not in os.environ\n";
  job.limits.wall_seconds = 20;
  const ExecResult result = executor.Run(job, 0);
  probe.ok = result.verdict == Verdict::kPass;
  probe.detail = probe.ok ? executor.Name() + " works"
                          : VerdictName(result.verdict) + ": " + (result.detail.empty() ? result.stderr_head : result.detail);
  return probe;
}

std::vector<ExecResult> RunAll(Executor& executor, const std::vector<ExecJob>& jobs, int workers) {
  std::vector<ExecResult> results(jobs.size());
  std::atomic<size_t> next{0};
  auto work = [&](int slot) {
    for (size_t i = next++; i < jobs.size(); i = next++) results[i] = executor.Run(jobs[i], slot);
  };
  std::vector<std::thread> threads;
  for (int slot = 0; slot < std::max(1, workers); ++slot) threads.emplace_back(work, slot);
  for (auto& thread : threads) thread.join();
  return results;
}

}  // namespace llada
