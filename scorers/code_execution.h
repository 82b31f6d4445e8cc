// pass@1 for code tasks: the assembled program runs in the sandbox (sandbox/),
// 1 when its verdict is PASS. The sandbox is probed once, at the first program:
// if it is unusable the run stops with that reason (an infrastructure error,
// never a failing sample); responses already computed stay in the store.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "sandbox/executor.h"
#include "scorers/metrics.h"

namespace llada {

// One executor for the process, probed on first use.
class SandboxRunner {
 public:
  ExecResult Run(const ExecJob& job);

 private:
  std::mutex mutex_;
  std::unique_ptr<Executor> executor_;
  bool probed_ = false;
  std::string unusable_;  // the probe's reason, when it failed
};

class PassAtOneMetric : public TextMetric {
 public:
  explicit PassAtOneMetric(std::shared_ptr<SandboxRunner> runner) : runner_(std::move(runner)) {}
  double Compute(const std::string& program, const std::string& reference) const override;
  // Adds the verdict, the limits used and the head of stderr.
  double ComputeWithDetails(const std::string& program, const std::string& reference,
                            nlohmann::json* details) const override;

 private:
  std::shared_ptr<SandboxRunner> runner_;
};

}  // namespace llada
