#include "scorers/code_execution.h"

#include "core/errors.h"

namespace llada {

ExecResult SandboxRunner::Run(const ExecJob& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!probed_) {
    probed_ = true;
    executor_ = MakeBwrapExecutor();
    const SandboxProbe probe = ProbeSandbox(*executor_);
    if (!probe.ok) unusable_ = probe.detail;
  }
  if (!unusable_.empty())
    throw UserError("code tasks need the sandbox, which is unusable here: " + unusable_ +
                    " (scripts/setup.sh installs bubblewrap; see sandbox/README.md)");
  return executor_->Run(job, /*slot=*/0);
}

double PassAtOneMetric::Compute(const std::string& program, const std::string& reference) const {
  return ComputeWithDetails(program, reference, nullptr);
}

double PassAtOneMetric::ComputeWithDetails(const std::string& program, const std::string& reference,
                                           nlohmann::json* details) const {
  (void)reference;  // already part of the assembled program
  const ExecJob job{program, ExecLimits()};
  const ExecResult result = runner_->Run(job);
  if (result.verdict == Verdict::kSandboxError)
    throw UserError("sandbox error while running a program: " + result.detail);
  if (details) {
    const ExecLimits& l = job.limits;
    *details = {{"verdict", VerdictName(result.verdict)},
                {"sandbox", "bwrap"},
                {"wall_seconds", result.wall_seconds},
                {"exit_code", result.exit_code},
                {"stderr_head", result.stderr_head},
                {"detail", result.detail},
                {"limits",
                 {{"wall_seconds", l.wall_seconds},
                  {"cpu_seconds", l.cpu_seconds},
                  {"memory_bytes", l.memory_bytes},
                  {"tmpfs_bytes", l.tmpfs_bytes},
                  {"output_bytes", l.output_bytes},
                  {"max_processes", l.max_processes},
                  {"max_open_files", l.max_open_files}}}};
  }
  return result.verdict == Verdict::kPass ? 1.0 : 0.0;
}

}  // namespace llada
