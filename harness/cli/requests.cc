// `llada-eval requests`: every request a run would send, as JSONL (no model).
#include <iostream>

#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/evaluator.h"

namespace llada {
namespace {

class RequestsCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* requests = app.add_subcommand("requests", "Print every request a run would send, as JSONL");
    AddCommonFlags(requests, &flags_);
    return requests;
  }

  int Run(CommandContext& context) override {
    const Plan plan = BuildPlan(context.Tasks(), ToEvalOptions(flags_));
    for (const auto& planned : plan.tasks)
      for (const auto& doc_requests : planned.requests)
        for (const auto& request : doc_requests) std::cout << RequestJson(request).dump() << "\n";
    return kExitOk;
  }

 private:
  CommonFlags flags_;
};

}  // namespace

std::unique_ptr<Command> MakeRequestsCommand() { return std::make_unique<RequestsCommand>(); }

}  // namespace llada
