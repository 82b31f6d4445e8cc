// `llada-eval run` (the default command): evaluate a model on tasks.
#include <unistd.h>

#include <iostream>

#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/evaluator.h"
#include "models/model.h"

namespace llada {
namespace {

class RunCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* run = app.add_subcommand("run", "Evaluate a model on tasks (the default command)");
    AddCommonFlags(run, &common_);  // first: it sets the option defaults for the rest
    AddRunFlags(run, &flags_, /*with_model=*/true);
    return run;
  }

  int Run(CommandContext& context) override {
    EvalOptions options = ToRunOptions(common_, flags_);
    options.after_commit = context.hooks.after_commit;
    options.after_store = context.hooks.after_store;
    ModelRegistry models;
    RegisterBuiltinModels(models);
    Evaluator evaluator(context.Tasks(), models, std::cerr, isatty(STDERR_FILENO) != 0);
    const RunOutcome outcome = evaluator.Run(options);
    std::cout << FormatResultsTable(outcome.report);
    std::cerr << "llada-eval: run " << outcome.report.run_id << (outcome.resumed ? " (resumed)" : "") << ": "
              << outcome.computed_responses << " responses computed, " << outcome.cached_responses << " from cache";
    if (outcome.failed_documents) std::cerr << ", " << outcome.failed_documents << " documents failed (see samples)";
    std::cerr << "\n  results: " << outcome.results_path.string() << "\n  store:   " << outcome.db_path.string()
              << "\n";
    for (const auto& path : outcome.sample_paths) std::cerr << "  samples: " << path.string() << "\n";
    if (outcome.unscored_documents) {
      std::cerr << "llada-eval: " << outcome.unscored_documents
                << " documents could not be scored (the sandbox failed on their programs; their samples say why); "
                   "run the same command again to score them\n";
      return kExitUnscored;
    }
    return kExitOk;
  }

 private:
  CommonFlags common_;
  RunFlags flags_;
};

}  // namespace

std::unique_ptr<Command> MakeRunCommand() { return std::make_unique<RunCommand>(); }

}  // namespace llada
