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
std::unique_ptr<Command> MakeRequestsCommand();
std::unique_ptr<Command> MakeTasksCommand();
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
