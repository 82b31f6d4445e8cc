// `llada-eval run` (the default command): evaluate a model on tasks, or one
// shard of that evaluation (--shard I/N; `merge` scores the shards' union).
#include <unistd.h>

#include <algorithm>
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
    run->add_option("--shard", shard_,
                    "Compute only shard I of N (I from 0: the requests of the documents that hash to I mod N) into "
                    "<output>/llada-eval.shard-I-of-N.db, scoring nothing; `llada-eval merge` scores the union");
    run->add_option("--workers", workers_,
                    "Run the shards of the run in N processes on this machine (the cores shared), then merge them")
        ->check(CLI::PositiveNumber);
    run->add_option("--devices", devices_,
                    "One process per device over the shards of the run (cuda:0,cuda:1,...), then merge them");
    return run;
  }

  // What the parsed flags ask for.
  EvalOptions Options() const {
    EvalOptions options = ToRunOptions(common_, flags_);
    if (!shard_.empty()) options.shard = ParseShard(shard_);
    return options;
  }

  int Run(CommandContext& context) override {
    if (workers_ > 1 || !devices_.empty()) return RunWorkers(Options(), SplitList(devices_), workers_, context);
    EvalOptions options = Options();
    options.command_line = context.args;
    options.after_commit = context.hooks.after_commit;
    options.after_store = context.hooks.after_store;
    ModelRegistry models;
    RegisterBuiltinModels(models);
    Evaluator evaluator(context.Tasks(), models, std::cerr, isatty(STDERR_FILENO) != 0);
    const RunOutcome outcome = evaluator.Run(options);
    if (options.shard) {
      const std::string count = std::to_string(options.shard->count);
      std::cerr << "llada-eval: run " << outcome.report.run_id << (outcome.resumed ? " (resumed)" : "") << ", shard "
                << options.shard->index << "/" << count << ": " << outcome.shard_requests
                << " requests are this shard's; " << outcome.computed_responses << " computed, "
                << outcome.cached_responses << " from cache\n  store:   " << outcome.db_path.string()
                << "\n  when every shard is done: llada-eval merge "
                << (outcome.db_path.parent_path() / ("llada-eval.shard-*-of-" + count + ".db")).string() << "\n";
      return kExitOk;
    }
    return ReportOutcome(outcome);
  }

 private:
  CommonFlags common_;
  RunFlags flags_;
  std::string shard_, devices_;
  int workers_ = 1;
};

}  // namespace

int ReportOutcome(const RunOutcome& outcome) {
  std::cout << FormatResultsTable(outcome.report);
  std::cerr << "llada-eval: run " << outcome.report.run_id << (outcome.resumed ? " (resumed)" : "") << ": "
            << outcome.computed_responses << " responses computed, " << outcome.cached_responses << " from cache";
  if (outcome.failed_documents) std::cerr << ", " << outcome.failed_documents << " documents failed (see samples)";
  std::cerr << "\n  results: " << outcome.results_path.string() << "\n  store:   " << outcome.db_path.string() << "\n";
  for (const auto& path : outcome.sample_paths) std::cerr << "  samples: " << path.string() << "\n";
  if (outcome.unscored_documents) {
    std::cerr << "llada-eval: " << outcome.unscored_documents
              << " documents could not be scored (the sandbox failed on their programs; their samples say why); "
                 "run the same command again to score them\n";
    return kExitUnscored;
  }
  return kExitOk;
}

EvalOptions ParseRunCommandLine(const std::vector<std::string>& command_line) {
  CLI::App app;
  RunCommand command;
  command.Add(app);
  std::vector<std::string> args = command_line;
  if (args.empty() || args[0] != "run") args.insert(args.begin(), "run");
  std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    throw UserError("the recorded command line does not parse: " + std::string(e.what()));
  }
  return command.Options();
}

std::unique_ptr<Command> MakeRunCommand() { return std::make_unique<RunCommand>(); }

}  // namespace llada
