#include "sandbox/executor.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

// Runs in the child between fork and exec: async-signal-safe calls only.
// Limits first (they bind the uid we switch to), then the uid, then the
// parent-death signal so nothing outlives the harness.
struct LimitAndDropPrivileges : bp::extend::handler {
  ExecLimits limits;
  uid_t uid = 0;
  bool switch_uid = false;

  template <class Executor>
  void on_exec_setup(Executor&) const {
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
      if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) _exit(121);
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

// Processes owned by `uid` (from /proc).
int CountProcessesOf(uid_t uid) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat info {};
    if (::stat(entry.path().c_str(), &info) != 0 || info.st_uid != uid) continue;
    // A zombie is already dead (its parent has yet to reap it).
    std::ifstream stat_file(entry.path() / "stat");
    std::string line;
    std::getline(stat_file, line);
    const size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') continue;
    ++count;
  }
  return count;
}

// The end of every job: nothing of the slot's uid survives it (a daemon that
// escaped the namespace teardown, a fork bomb still dying). A helper child
// switches to the uid and sends SIGKILL to everything that uid may signal,
// until none is left (at most ~2 s).
void KillEverythingOf(uid_t uid) {
  for (int attempt = 0; attempt < 200 && CountProcessesOf(uid) > 0; ++attempt) {
    const pid_t helper = ::fork();
    if (helper == 0) {
      if (setgroups(0, nullptr) == 0 && setgid(uid) == 0 && setuid(uid) == 0) ::kill(-1, SIGKILL);
      _exit(0);
    }
    if (helper > 0) ::waitpid(helper, nullptr, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class BwrapExecutor : public Executor {
 public:
  explicit BwrapExecutor(BwrapOptions options) : options_(std::move(options)) {
    bwrap_ = bp::search_path("bwrap").string();
    std::filesystem::path root = options_.scratch_root;
    if (root.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      root = tmp && *tmp ? tmp : "/tmp";
    }
    scratch_ = root / ("llada-sandbox-" + std::to_string(::getpid()));
  }
  ~BwrapExecutor() override {
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }

  std::string Name() const override { return "bwrap"; }

  ExecResult Run(const ExecJob& job, int slot) override {
    ExecResult result;
    if (bwrap_.empty()) {
      result.detail = "bubblewrap (bwrap) not found on PATH";
      return result;
    }
    // The job's files: readable by the slot's uid, bound read-only at /job.
    const auto slot_dir = scratch_ / ("slot" + std::to_string(slot));
    const auto job_dir = slot_dir / "job", out_dir = slot_dir / "out";
    std::error_code ec;
    std::filesystem::remove_all(slot_dir, ec);
    std::filesystem::create_directories(job_dir);
    std::filesystem::create_directories(out_dir);
    for (const auto& dir : {scratch_, slot_dir, job_dir}) ::chmod(dir.c_str(), 0755);
    const std::string nonce = RandomNonce();
    WriteText(job_dir / "program.py", job.program);
    WriteText(job_dir / "run.py",
              "import sys\n"
              "source = open('/job/program.py', encoding='utf-8').read()\n"
              "exec(compile(source, '/job/program.py', 'exec'), {'__name__': '__main__'})\n"
              "sys.stdout.flush()\n"
              "print('" + nonce + "')\n");
    for (const char* name : {"program.py", "run.py"}) ::chmod((job_dir / name).c_str(), 0644);

    const uid_t uid = static_cast<uid_t>(options_.uid_base + slot);
    const bool root = ::geteuid() == 0;
    LimitAndDropPrivileges setup;
    setup.limits = job.limits;
    setup.uid = uid;
    setup.switch_uid = root;
    const std::string id = std::to_string(root ? uid : ::geteuid());
    const std::vector<std::string> args = {
        "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "PYTHONHASHSEED", "0",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
        "--size", std::to_string(job.limits.tmpfs_bytes), "--tmpfs", "/tmp",
        "--ro-bind", job_dir.string(), "/job", "--remount-ro", "/", "--chdir", "/tmp",
        "--uid", id, "--gid", id, options_.python, "-I", "-S", "/job/run.py"};
    FILE* out = std::fopen((out_dir / "stdout").c_str(), "wb");
    FILE* err = std::fopen((out_dir / "stderr").c_str(), "wb");
    if (!out || !err) {
      if (out) std::fclose(out);
      if (err) std::fclose(err);
      result.detail = "cannot create the output files in " + out_dir.string();
      return result;
    }
    const auto start = std::chrono::steady_clock::now();
    bool timed_out = false;
    int status = 0;
    try {
      // bwrap itself starts with an empty environment: its pid-1 process is
      // visible inside the sandbox, and /proc/1/environ would otherwise show
      // the harness's variables (tokens, paths) to the program.
      bp::environment empty;
      bp::child child(bwrap_, args, empty, bp::std_in < bp::null, bp::std_out > out, bp::std_err > err, setup);
      const auto deadline = start + std::chrono::duration<double>(job.limits.wall_seconds);
      // Poll rather than child::wait_for, which Boost 1.74 implements with
      // signal handling that is unreliable in multithreaded programs.
      while (child.running()) {
        if (std::chrono::steady_clock::now() >= deadline) {
          timed_out = true;
          child.terminate();  // SIGKILL to bwrap; --die-with-parent takes the sandbox with it
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!timed_out) child.wait();
      status = child.exit_code();
    } catch (const std::exception& e) {
      std::fclose(out);
      std::fclose(err);
      result.detail = std::string("cannot launch bwrap: ") + e.what();
      return result;
    }
    std::fclose(out);
    std::fclose(err);
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (root) KillEverythingOf(uid);
    result.exit_code = status;
    result.stderr_head = ReadHead(out_dir / "stderr", 1024);
    const std::string stdout_tail = ReadTail(out_dir / "stdout", 256);
    const auto stdout_size = std::filesystem::file_size(out_dir / "stdout", ec);
    const auto stderr_size = std::filesystem::file_size(out_dir / "stderr", ec);
    const std::string stderr_tail = ReadTail(out_dir / "stderr", 4096);
    std::filesystem::remove_all(slot_dir, ec);

    if (timed_out) {
      result.verdict = Verdict::kTimeout;
      result.detail = "wall clock limit of " + std::to_string(job.limits.wall_seconds) + " s";
    } else if (status == 121 || result.stderr_head.rfind("bwrap:", 0) == 0) {
      result.verdict = Verdict::kSandboxError;
      result.detail = status == 121 ? "could not switch to uid " + std::to_string(uid) : result.stderr_head;
    } else if (status == 128 + SIGXCPU) {
      result.verdict = Verdict::kCpuLimit;
      result.detail = "CPU limit of " + std::to_string(job.limits.cpu_seconds) + " s";
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
  BwrapOptions options_;
  std::string bwrap_;
  std::filesystem::path scratch_;
};

}  // namespace

int DefaultSandboxUidBase() { return 200000 + (static_cast<int>(::getpid()) % 100000) * 64; }

std::unique_ptr<Executor> MakeBwrapExecutor(const BwrapOptions& options) {
  return std::make_unique<BwrapExecutor>(options);
}

SandboxProbe ProbeSandbox(Executor& executor) {
  SandboxProbe probe;
  ExecJob job;
  job.program = "import os\nassert 'HOME' not in os.environ\n";
  job.limits.wall_seconds = 20;
  const ExecResult result = executor.Run(job, 0);
  probe.ok = result.verdict == Verdict::kPass;
  probe.detail = probe.ok ? executor.Name() + " sandbox works"
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
