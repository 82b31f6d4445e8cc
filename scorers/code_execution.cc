#include "scorers/code_execution.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <ostream>
#include <thread>

#include "core/errors.h"
#include "core/hashing.h"

namespace llada {
namespace {

nlohmann::json LimitsJson(const ExecLimits& l) {
  return {{"wall_seconds", l.wall_seconds},    {"cpu_seconds", l.cpu_seconds},   {"memory_bytes", l.memory_bytes},
          {"tmpfs_bytes", l.tmpfs_bytes},      {"output_bytes", l.output_bytes}, {"max_processes", l.max_processes},
          {"max_open_files", l.max_open_files}};
}

std::string LimitsKey(const ExecLimits& l) { return LimitsJson(l).dump(); }

// The value for `key`, computed once: the first caller runs `compute`, callers
// that come while it runs wait for its result.
template <class T, class Compute>
T ComputeOnce(std::mutex& mutex, std::map<std::string, std::shared_future<T>>& memo, const std::string& key,
              Compute compute) {
  std::promise<T> promise;
  std::shared_future<T> future;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = memo.find(key);
    if (it == memo.end()) {
      future = promise.get_future().share();
      memo.emplace(key, future);
      owner = true;
    } else {
      future = it->second;
    }
  }
  if (owner) {
    try {
      promise.set_value(compute());
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
  }
  return future.get();
}

}  // namespace

int CodeExecutionOptions::ResolvedWorkers() const {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::clamp(workers > 0 ? workers : cores, 1, kMaxSandboxSlots);
}

nlohmann::json CodeExecutionOptions::Describe() const {
  // Not the worker count: it changes how fast, never what, a run scores.
  return {
      {"time_limit_floor", time_limit_floor}, {"time_limit_factor", time_limit_factor}, {"unsafe_exec", unsafe_exec}};
}

void SandboxRunner::Configure(const CodeExecutionOptions& options, std::ostream* log) {
  if (options.time_limit_floor <= 0 || options.time_limit_factor <= 0)
    throw UserError("--exec-time-floor and --exec-time-factor must be positive");
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_slots_.size() != static_cast<size_t>(options_.ResolvedWorkers()) && executor_)
    throw InternalError("SandboxRunner::Configure while programs are running");
  if (options.bwrap != options_.bwrap || options.unsafe_exec != options_.unsafe_exec) {
    executor_.reset();
    probed_ = false;
    unusable_.clear();
  }
  options_ = options;
  log_ = log;
  free_slots_.clear();
  for (int slot = options_.ResolvedWorkers() - 1; slot >= 0; --slot) free_slots_.push_back(slot);
}

Executor& SandboxRunner::EnsureExecutor() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!probed_) {
    probed_ = true;
    if (free_slots_.empty())
      for (int slot = options_.ResolvedWorkers() - 1; slot >= 0; --slot) free_slots_.push_back(slot);
    BwrapOptions bwrap;
    bwrap.bwrap = options_.bwrap;
    executor_ = MakeBwrapExecutor(bwrap);
    const SandboxProbe probe = ProbeSandbox(*executor_);
    if (!probe.ok && options_.unsafe_exec) {
      executor_ = MakeUnsafeExecutor(bwrap);
      const SandboxProbe unsafe = ProbeSandbox(*executor_);
      if (!unsafe.ok) unusable_ = "the sandbox: " + probe.detail + "; without it: " + unsafe.detail;
      if (unsafe.ok && log_)
        *log_ << "llada-eval: WARNING: --unsafe-exec: the sandbox is unusable (" << probe.detail
              << "); model-written code runs WITHOUT isolation (rlimits, a cleared environment and "
              << (::geteuid() == 0 ? "a separate uid" : "your own uid") << " only). Samples record sandbox \"none\".\n";
    } else if (!probe.ok) {
      unusable_ = probe.detail;
    }
  }
  if (!unusable_.empty())
    throw UserError("code tasks need the sandbox, which is unusable here: " + unusable_ +
                    " (scripts/setup.sh installs bubblewrap; `llada-eval sandbox selftest` checks it; "
                    "--unsafe-exec runs code without isolation, see sandbox/README.md)");
  return *executor_;
}

ExecResult SandboxRunner::RunOnFreeSlot(const ExecJob& job) {
  Executor& executor = EnsureExecutor();
  int slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    slot_freed_.wait(lock, [&] { return !free_slots_.empty(); });
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  ExecResult result;
  try {
    result = executor.Run(job, slot);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_slots_.push_back(slot);
    slot_freed_.notify_one();
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_slots_.push_back(slot);
  }
  slot_freed_.notify_one();
  return result;
}

// Each reference solution runs once per process, the first time a sample of
// its problem is scored; samples of that problem wait for it.
SandboxRunner::Calibration SandboxRunner::Calibrate(const std::string& reference_program) {
  return ComputeOnce(mutex_, calibrations_, Sha256Hex(reference_program), [&] {
    Calibration calibration;
    calibration.reference = RunWithRetry({reference_program, ExecLimits()});
    calibration.usable = calibration.reference.verdict == Verdict::kPass;
    return calibration;
  });
}

ExecResult SandboxRunner::RunWithRetry(const ExecJob& job) {
  ExecResult result = RunOnFreeSlot(job);
  if (result.verdict == Verdict::kSandboxError) {
    // Often transient (a fork refused while the machine is loaded): once more, a moment later.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    result = RunOnFreeSlot(job);
    result.retried = true;
  }
  return result;
}

ExecLimits SandboxRunner::LimitsFor(const Calibration& calibration) const {
  ExecLimits limits;
  if (!calibration.usable) return limits;
  limits.wall_seconds =
      std::max(options_.time_limit_floor, options_.time_limit_factor * calibration.reference.wall_seconds);
  limits.cpu_seconds = static_cast<int>(std::ceil(limits.wall_seconds));
  return limits;
}

CodeRun SandboxRunner::Run(const std::string& program, const std::string& reference_program) {
  CodeRun run;
  std::optional<Calibration> calibration;
  if (reference_program.empty()) {
    run.calibration = {{"calibrated", false}, {"reason", "the task names no reference solution"}};
  } else {
    calibration = Calibrate(reference_program);
    run.limits = LimitsFor(*calibration);
    run.calibration = {{"calibrated", calibration->usable},
                       {"reference_verdict", VerdictName(calibration->reference.verdict)},
                       {"reference_seconds", calibration->reference.wall_seconds},
                       {"floor", options_.time_limit_floor},
                       {"factor", options_.time_limit_factor}};
  }
  if (calibration && calibration->reference.verdict == Verdict::kSandboxError) {
    // Without its reference time the program's limits are unknown: unscored.
    run.result = calibration->reference;
    run.result.detail = "the reference solution could not be run: " + run.result.detail;
    std::lock_guard<std::mutex> lock(mutex_);
    calibrations_.erase(Sha256Hex(reference_program));
  } else if (calibration && calibration->usable && program == reference_program) {
    // The reference solution itself (a canonical replay): it already passed,
    // in at most a quarter of the limit it would get now.
    run.result = calibration->reference;
  } else {
    const std::string key = Sha256Hex(program + "\n" + LimitsKey(run.limits));
    run.result = ComputeOnce(mutex_, results_, key, [&] { return RunWithRetry({program, run.limits}); });
    if (run.result.verdict == Verdict::kSandboxError) {
      std::lock_guard<std::mutex> lock(mutex_);
      results_.erase(key);  // not an answer: the next run of this program tries again
    }
  }
  run.executor = executor_->Name();
  return run;
}

SandboxRunner& CodeSandbox() {
  static SandboxRunner runner;
  return runner;
}

double PassAtKMetric::Compute(const std::string&, const std::string&) const {
  throw InternalError("pass@k runs programs: call ComputeOverSamples with a ScoringContext holding the sandbox");
}

double PassAtKMetric::ComputeOverSamples(const std::vector<std::string>& programs, const std::string& reference_program,
                                         const ScoringContext& context, nlohmann::json* details) const {
  if (!context.sandbox) throw InternalError("pass@k needs the sandbox in its ScoringContext");
  const int n = static_cast<int>(programs.size());
  if (n < k_)
    throw SampleError("pass@" + std::to_string(k_) + " needs at least " + std::to_string(k_) +
                      " samples per problem, got " + std::to_string(n) + " (set the task's `repeats`)");
  int passed = 0;
  std::string sandbox_error;
  nlohmann::json samples = nlohmann::json::array();
  for (const auto& program : programs) {
    const CodeRun run = context.sandbox->Run(program, reference_program);
    passed += run.result.verdict == Verdict::kPass;
    if (run.result.verdict == Verdict::kSandboxError && sandbox_error.empty()) sandbox_error = run.result.detail;
    samples.push_back({{"verdict", VerdictName(run.result.verdict)},
                       {"sandbox", run.executor},
                       {"wall_seconds", run.result.wall_seconds},
                       {"exit_code", run.result.exit_code},
                       {"stderr_head", run.result.stderr_head},
                       {"detail", run.result.detail},
                       {"retried", run.result.retried},
                       {"limits", LimitsJson(run.limits)},
                       {"calibration", run.calibration}});
  }
  if (details) {
    if (n == 1) {
      *details = samples[0];
    } else {
      *details = {{"n", n}, {"c", passed}, {"k", k_}, {"samples", samples}};
    }
  }
  // Not a verdict on the program: the document stays unscored (its details
  // say which run failed), and the run reports it.
  if (!sandbox_error.empty()) throw UnscoredError("sandbox error while running a program: " + sandbox_error);
  return PassAtK(n, passed, k_);
}

}  // namespace llada
