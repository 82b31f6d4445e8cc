#include "scorers/code_execution.h"

#include "core/errors.h"

namespace llada {

ExecResult SandboxRunner::Run(const std::string& program) {
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
  ExecJob job;
  job.program = program;
  return executor_->Run(job, /*slot=*/0);
}

double PassAtOneMetric::Compute(const std::string& program, const std::string& reference) const {
  (void)reference;  // already part of the assembled program
  const ExecResult result = runner_->Run(program);
  if (result.verdict == Verdict::kSandboxError)
    throw UserError("sandbox error while running a program: " + result.detail);
  return result.verdict == Verdict::kPass ? 1.0 : 0.0;
}

}  // namespace llada
