#include "harness/cli/command.h"
#include "harness/evaluator.h"
#include "scorers/registry.h"

namespace llada {

const TaskRegistry& CommandContext::Tasks() {
  if (!tasks_) {
    loaders_ = std::make_unique<LoaderRegistry>();
    RegisterBuiltinLoaders(*loaders_);
    tasks_ = std::make_unique<TaskRegistry>();
    RegisterBuiltinTasks(*tasks_, DefaultConfigDir(), *loaders_, BuiltinScorers());
  }
  return *tasks_;
}

std::vector<std::unique_ptr<Command>> BuiltinCommands() {
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(MakeRunCommand());
  commands.push_back(MakeMergeCommand());
  commands.push_back(MakeSlurmCommand());
  commands.push_back(MakeRequestsCommand());
  commands.push_back(MakeTasksCommand());
  commands.push_back(MakeDataCommand());
  commands.push_back(MakeTokenizeCommand());
  commands.push_back(MakeInitModelCommand());
  for (auto& inspect : MakeInspectCommands()) commands.push_back(std::move(inspect));
  commands.push_back(MakeSandboxCommand());
  commands.push_back(MakeRunsCommand());
  commands.push_back(MakeCompareCommand());
  commands.push_back(MakeReportCommand());
  commands.push_back(MakeStudyCommand());
  return commands;
}

}  // namespace llada
