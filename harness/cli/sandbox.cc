// `llada-eval sandbox selftest`: the code sandbox's adversarial suite.
#include <algorithm>
#include <iostream>
#include <thread>

#include "harness/cli/command.h"
#include "sandbox/executor.h"
#include "sandbox/selftest.h"

namespace llada {
namespace {

class SandboxCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* sandbox = app.add_subcommand("sandbox", "The code-execution sandbox");
    sandbox->require_subcommand(1);
    auto* selftest = sandbox->add_subcommand(
        "selftest", "Run the adversarial suite; print case, expected, observed (exit 1 on any miss)");
    selftest->add_option("--workers", workers_, "Parallel sandbox slots (default: the machine's cores)")
        ->capture_default_str()
        ->check(CLI::Range(1, kMaxSandboxSlots));
    return sandbox;
  }

  int Run(CommandContext&) override {
    auto executor = MakeBwrapExecutor();
    const SandboxProbe probe = ProbeSandbox(*executor);
    std::cerr << "llada-eval: sandbox probe: " << probe.detail << "\n";
    const SelftestReport report = RunSandboxSelftest(*executor, workers_);
    std::cout << FormatSelftestTable(report);
    return report.ok() && probe.ok ? kExitOk : kExitRegression;
  }

 private:
  int workers_ = std::min(kMaxSandboxSlots, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
};

}  // namespace

std::unique_ptr<Command> MakeSandboxCommand() { return std::make_unique<SandboxCommand>(); }

}  // namespace llada
