// `llada-eval tasks`: tasks and groups, their aliases and data files.
#include <iostream>

#include "core/text.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"

namespace llada {
namespace {

class TasksCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* tasks = app.add_subcommand("tasks", "List tasks and groups, their aliases and data files");
    tasks->add_option("--data-dir", data_dir_, "Where to look for the data files");
    tasks->add_flag(
        "--check", check_,
        "Only validate every task config (unknown keys, types, templates); exit 2 naming the first problem");
    return tasks;
  }

  int Run(CommandContext& context) override {
    const TaskRegistry& registry = context.Tasks();  // loading checks every config file and builds every task
    if (check_) {
      std::cout << "configs OK: " << registry.TaskNames().size() << " tasks, " << registry.GroupNames().size()
                << " groups (" << DefaultConfigDir().string() << ")\n";
      return kExitOk;
    }
    std::cout << "Data directory: " << data_dir_ << "\n\nGroups:\n";
    for (const auto& name : registry.GroupNames()) {
      const GroupSpec* group = registry.FindGroup(name);
      const std::string aliases = Join(registry.AliasesOf(name), ",");
      std::cout << "  " << name << "  (" << group->subtasks.size() << " subtasks"
                << (aliases.empty() ? "" : "; aliases: " + aliases) << ")\n";
    }
    std::cout << "\nTasks (name, request type, default shots, aliases, data files):\n";
    size_t missing = 0;
    for (const auto& name : registry.TaskNames()) {
      auto task = registry.CreateTask(name);
      const std::string aliases = Join(registry.AliasesOf(name), ",");
      std::cout << "  " << name << "  " << RequestTypeName(task->request_type())
                << "  shots=" << task->default_num_fewshot() << (aliases.empty() ? "" : "  aliases=" + aliases) << "\n";
      for (const auto& file : task->DataFiles(data_dir_)) {
        std::cout << "      " << file.split << ": " << file.path.string() << (file.found ? "  [found]" : "  [MISSING]")
                  << "\n";
        if (!file.found) ++missing;
      }
    }
    std::cout << "\n"
              << registry.TaskNames().size() << " tasks, " << registry.GroupNames().size() << " groups; " << missing
              << " data files missing"
              << (missing ? " (`llada-eval data fetch --tasks <names> --data-dir " + data_dir_ + "` downloads them)"
                          : "")
              << "\n";
    return kExitOk;
  }

 private:
  std::string data_dir_ = DefaultDataDir();
  bool check_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeTasksCommand() { return std::make_unique<TasksCommand>(); }

}  // namespace llada
