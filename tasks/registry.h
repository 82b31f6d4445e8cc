// TaskRegistry: every task, group and alias by name. Config-defined tasks
// (configs/tasks/*.json) and any code-defined task are registered through
// RegisterBuiltinTasks(), the folder's one registration point.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "scorers/registry.h"
#include "tasks/loaders.h"
#include "tasks/task.h"

namespace llada {

struct GroupMetric {
  std::string metric;
  std::string filter = "none";
  bool weight_by_size = true;
};

struct GroupSpec {
  std::string name;
  int version = 0;
  std::vector<std::string> subtasks;  // leaf tasks or groups, in order
  std::vector<GroupMetric> aggregate;  // empty: the group only lists its subtasks
  std::string origin;
};

using TaskFactory = std::function<std::unique_ptr<Task>()>;

// What a --tasks list expands to.
struct TaskSelection {
  std::vector<std::string> leaf_tasks;  // unique, in request order
  std::vector<std::string> groups;      // every group involved, innermost first
};

class TaskRegistry {
 public:
  TaskRegistry() = default;

  void RegisterTask(const std::string& name, TaskFactory factory, const std::string& origin);
  void RegisterGroup(GroupSpec group);
  void RegisterAlias(const std::string& alias, const std::string& target, const std::string& origin);

  // Reads one configs/tasks file: a task, a group, or a task family.
  void LoadConfigFile(const std::filesystem::path& file, const LoaderRegistry& loaders,
                      const ScorerRegistry& scorers);

  bool IsTask(const std::string& name) const { return tasks_.count(name) > 0; }
  const GroupSpec* FindGroup(const std::string& name) const;
  std::string Canonical(const std::string& name) const;  // resolves aliases
  std::vector<std::string> TaskNames() const;
  std::vector<std::string> GroupNames() const;
  std::vector<std::string> AliasesOf(const std::string& name) const;

  // Expands names, groups and aliases; throws UserError for an unknown name.
  TaskSelection Resolve(const std::vector<std::string>& names) const;
  std::unique_ptr<Task> CreateTask(const std::string& name) const;

 private:
  std::string Suggest(const std::string& unknown) const;  // "; did you mean 'x'?" or ""
  void ExpandInto(const std::string& name, TaskSelection* selection, std::set<std::string>* seen_groups,
                  int depth) const;
  struct TaskEntry {
    TaskFactory factory;
    std::string origin;
  };
  std::map<std::string, TaskEntry> tasks_;
  std::map<std::string, GroupSpec> groups_;
  std::map<std::string, std::string> aliases_;
};

// Registers every built-in task: all config files under `config_dir`/tasks.
// The loaders and scorers must outlive the registry.
void RegisterBuiltinTasks(TaskRegistry& registry, const std::filesystem::path& config_dir,
                          const LoaderRegistry& loaders, const ScorerRegistry& scorers);

// The directory holding tasks/ and presets/: $LLADA_EVAL_CONFIG_DIR, else the
// source tree's configs/ compiled in.
std::filesystem::path DefaultConfigDir();

}  // namespace llada
