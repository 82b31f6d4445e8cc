// The command line: one Command per subcommand, registered in one place
// (BuiltinCommands in commands.cc), each in its own file.
//
// A command adds its flags to the CLI11 app, then runs when it was the one
// parsed. Errors travel as exceptions (core/errors.h); main.cc turns them into
// exit statuses.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <vector>

#include "harness/cli/command_line.h"
#include "harness/evaluator.h"
#include "tasks/loaders.h"
#include "tasks/registry.h"

namespace llada {

// Exit statuses of llada-eval (README: "Exit status").
enum ExitStatus : int {
  kExitOk = 0,
  kExitRegression = 1,  // compare: a significant regression; sandbox selftest: a miss
  kExitUserError = 2,   // bad input: one line naming the file, field or flag
  kExitBug = 3,         // an internal error
  kExitUnscored = 4,    // the run finished, but some documents could not be scored (sandbox failures)
};

// What commands share, built on first use: most commands need the task
// registry (it reads configs/), a few need nothing.
class CommandContext {
 public:
  const TaskRegistry& Tasks();
  CliHooks hooks;
  std::vector<std::string> args;  // the command line, without the program name

 private:
  std::unique_ptr<LoaderRegistry> loaders_;
  std::unique_ptr<TaskRegistry> tasks_;
};

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand and its flags to `app`; returns the subcommand.
  virtual CLI::App* Add(CLI::App& app) = 0;
  // Runs after the subcommand parsed; returns the exit status.
  virtual int Run(CommandContext& context) = 0;
};

std::unique_ptr<Command> MakeRunCommand();
// The evaluation a `run` command line asks for, as a run records it
// (config.command_line): `merge` scores the union of a sharded run with it.
EvalOptions ParseRunCommandLine(const std::vector<std::string>& command_line);
// Prints a finished run's results table and where its outputs are; returns
// the exit status (run, merge).
int ReportOutcome(const RunOutcome& outcome);
std::unique_ptr<Command> MakeMergeCommand();
std::unique_ptr<Command> MakeSlurmCommand();

// `merge`, and `run --workers/--devices` once its workers are done
// (docs/sharding.md): checks the shard stores belong to one run, copies their
// responses into the merged store and scores the run from it.
struct MergeRequest {
  std::vector<std::string> shard_stores;
  std::string output, db, data_dir;  // empty: the shards' output, <output>/llada-eval.db, the shards' data
  bool log_samples = false;
  bool partial = false;
  std::vector<std::string> command_line;  // recorded as the merged run's
};
RunOutcome MergeShardStores(const MergeRequest& request, CommandContext& context);
// ReportOutcome, then the partial run's note; exit 4 when responses were missing.
int ReportMerged(const RunOutcome& outcome);
// `run --workers N` (CPU) / `--devices D1,D2,...`: one `run --shard I/N`
// process per worker or device over the command line as given, then the
// merge; a failed worker is named with the command that reruns it alone.
int RunWorkers(const EvalOptions& options, const std::vector<std::string>& devices, int workers,
               CommandContext& context);
std::unique_ptr<Command> MakeRequestsCommand();
std::unique_ptr<Command> MakeTasksCommand();
std::unique_ptr<Command> MakeDataCommand();
std::unique_ptr<Command> MakeTokenizeCommand();
std::unique_ptr<Command> MakeInitModelCommand();
std::vector<std::unique_ptr<Command>> MakeInspectCommands();  // logits, loglik, generate
std::unique_ptr<Command> MakeSandboxCommand();
std::unique_ptr<Command> MakeRunsCommand();
std::unique_ptr<Command> MakeCompareCommand();
std::unique_ptr<Command> MakeReportCommand();
std::unique_ptr<Command> MakeStudyCommand();

// Every subcommand, in --help order: the one registration point.
std::vector<std::unique_ptr<Command>> BuiltinCommands();

}  // namespace llada
