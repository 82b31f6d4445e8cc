#include "tasks/registry.h"

#include <algorithm>
#include <cstdlib>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "tasks/config_schema.h"
#include "tasks/config_task.h"
#include "tasks/template.h"

namespace llada {
namespace {

nlohmann::json ParseJsonFile(const std::filesystem::path& file) {
  const std::string text = ReadInputFile(file);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError::InFile(file.string(), "", std::string("invalid JSON: ") + e.what());
  }
}

GroupSpec ParseGroup(const nlohmann::json& config, const std::vector<std::string>& member_tasks,
                     const std::string& origin) {
  GroupSpec group;
  group.name = config.at("group").get<std::string>();
  group.version = config.value("version", 0);
  group.origin = origin;
  if (config.contains("task")) {
    group.subtasks = config.at("task").get<std::vector<std::string>>();
  } else {
    group.subtasks = member_tasks;
  }
  if (group.subtasks.empty()) throw UserError::InFile(origin, group.name, "group has no tasks");
  for (const auto& entry : config.value("aggregate_metric_list", nlohmann::json::array())) {
    GroupMetric metric;
    metric.metric = entry.at("metric").get<std::string>();
    metric.filter = entry.value("filter_list", "none");
    metric.weight_by_size = entry.value("weight_by_size", true);
    group.aggregate.push_back(metric);
  }
  return group;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void TaskRegistry::RegisterTask(const std::string& name, TaskFactory factory, const std::string& origin) {
  if (tasks_.count(name) || groups_.count(name) || aliases_.count(name))
    throw UserError::InFile(origin, name, "task name already registered");
  tasks_[name] = TaskEntry{std::move(factory), origin};
}

void TaskRegistry::RegisterGroup(GroupSpec group) {
  if (tasks_.count(group.name) || groups_.count(group.name) || aliases_.count(group.name))
    throw UserError::InFile(group.origin, group.name, "group name already registered");
  const std::string name = group.name;
  groups_[name] = std::move(group);
}

void TaskRegistry::RegisterAlias(const std::string& alias, const std::string& target, const std::string& origin) {
  if (alias == target) return;
  if (tasks_.count(alias) || groups_.count(alias) || aliases_.count(alias))
    throw UserError::InFile(origin, alias, "alias already registered");
  aliases_[alias] = target;
}

void TaskRegistry::LoadConfigFile(const std::filesystem::path& file, const LoaderRegistry& loaders,
                                  const ScorerRegistry& scorers) {
  const std::string origin = file.string();
  const nlohmann::json config = ParseJsonFile(file);
  CheckTaskConfigFile(config, origin);  // unknown keys, wrong types, unsupported settings

  auto register_config_task = [&](const nlohmann::json& task_config, const nlohmann::json& vars) {
    // Build once now so a broken config fails at start-up, naming its file.
    const std::string name = ConfigTask(task_config, vars, origin, loaders, scorers).name();
    RegisterTask(name, [task_config, vars, origin, &loaders, &scorers] {
      return std::make_unique<ConfigTask>(task_config, vars, origin, loaders, scorers);
    }, origin);
    for (const auto& alias : task_config.value("aliases", std::vector<std::string>{}))
      RegisterAlias(PromptTemplate(alias, origin + ": aliases").Render({}, vars), name, origin);
    return name;
  };

  if (config.contains("task") && !config.contains("group")) {
    register_config_task(config, nlohmann::json::object());
  } else if (config.contains("family")) {
    // A family: one task template instantiated per member (MMLU's subjects),
    // plus the groups over them.
    if (!config.contains("members") || !config.contains("task_template"))
      throw UserError::InFile(origin, "family", "needs \"members\" and \"task_template\"");
    std::vector<std::pair<nlohmann::json, std::string>> members;
    for (const auto& vars : config.at("members"))
      members.emplace_back(vars, register_config_task(config.at("task_template"), vars));
    for (const auto& group_config : config.value("groups", nlohmann::json::array())) {
      std::vector<std::string> member_tasks;
      if (group_config.contains("members_where")) {
        for (const auto& [vars, name] : members) {
          bool matches = true;
          for (const auto& [key, value] : group_config.at("members_where").items())
            matches = matches && vars.contains(key) && vars.at(key) == value;
          if (matches) member_tasks.push_back(name);
        }
      }
      GroupSpec group = ParseGroup(group_config, member_tasks, origin);
      const std::string group_name = group.name;
      RegisterGroup(std::move(group));
      for (const auto& alias : group_config.value("aliases", std::vector<std::string>{}))
        RegisterAlias(alias, group_name, origin);
    }
  } else if (config.contains("group")) {
    GroupSpec group = ParseGroup(config, {}, origin);
    const std::string group_name = group.name;
    RegisterGroup(std::move(group));
    for (const auto& alias : config.value("aliases", std::vector<std::string>{})) RegisterAlias(alias, group_name, origin);
  } else {
    throw UserError::InFile(origin, "", "expected a \"task\", \"group\" or \"family\" config");
  }
}

const GroupSpec* TaskRegistry::FindGroup(const std::string& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

std::string TaskRegistry::Canonical(const std::string& name) const {
  auto it = aliases_.find(name);
  return it == aliases_.end() ? name : it->second;
}

std::vector<std::string> TaskRegistry::TaskNames() const {
  std::vector<std::string> names;
  for (const auto& entry : tasks_) names.push_back(entry.first);
  return names;
}

std::vector<std::string> TaskRegistry::GroupNames() const {
  std::vector<std::string> names;
  for (const auto& entry : groups_) names.push_back(entry.first);
  return names;
}

std::vector<std::string> TaskRegistry::AliasesOf(const std::string& name) const {
  std::vector<std::string> aliases;
  for (const auto& [alias, target] : aliases_)
    if (target == name) aliases.push_back(alias);
  return aliases;
}

void TaskRegistry::ExpandInto(const std::string& raw, TaskSelection* selection, std::set<std::string>* seen_groups,
                              int depth) const {
  if (depth > 16) throw UserError("task group nesting too deep at '" + raw + "' (a cycle?)");
  const std::string name = Canonical(raw);
  if (tasks_.count(name)) {
    if (std::find(selection->leaf_tasks.begin(), selection->leaf_tasks.end(), name) == selection->leaf_tasks.end())
      selection->leaf_tasks.push_back(name);
    return;
  }
  const GroupSpec* group = FindGroup(name);
  if (!group) throw UserError("unknown task or group '" + raw + "'" + Suggest(raw) + " (`llada-eval tasks` lists them)");
  for (const auto& sub : group->subtasks) ExpandInto(sub, selection, seen_groups, depth + 1);
  if (seen_groups->insert(name).second) selection->groups.push_back(name);
}

std::string TaskRegistry::Suggest(const std::string& unknown) const {
  std::vector<std::string> names = TaskNames();
  for (const auto& entry : groups_) names.push_back(entry.first);
  for (const auto& entry : aliases_) names.push_back(entry.first);
  std::string best;
  size_t best_distance = std::max<size_t>(3, unknown.size() / 4) + 1;
  for (const auto& name : names) {
    const size_t distance = EditDistance(unknown, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

TaskSelection TaskRegistry::Resolve(const std::vector<std::string>& names) const {
  TaskSelection selection;
  std::set<std::string> seen_groups;
  for (const auto& name : names) {
    const std::string trimmed = PyStrip(name);
    if (trimmed.empty()) continue;
    ExpandInto(trimmed, &selection, &seen_groups, 0);
  }
  if (selection.leaf_tasks.empty()) throw UserError("--tasks: no task given");
  return selection;
}

std::unique_ptr<Task> TaskRegistry::CreateTask(const std::string& name) const {
  auto it = tasks_.find(Canonical(name));
  if (it == tasks_.end()) throw UserError("unknown task '" + name + "' (`llada-eval tasks` lists them)");
  return it->second.factory();
}

void RegisterBuiltinTasks(TaskRegistry& registry, const std::filesystem::path& config_dir,
                          const LoaderRegistry& loaders, const ScorerRegistry& scorers) {
  const std::filesystem::path task_dir = config_dir / "tasks";
  std::error_code ec;
  if (!std::filesystem::is_directory(task_dir, ec))
    throw UserError::InFile(task_dir.string(), "", "task config directory not found (set LLADA_EVAL_CONFIG_DIR)");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(task_dir))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // deterministic registration order
  for (const auto& file : files) registry.LoadConfigFile(file, loaders, scorers);
}

std::filesystem::path DefaultConfigDir() {
  if (const char* env = std::getenv("LLADA_EVAL_CONFIG_DIR"); env && *env) return env;
  return LLADA_EVAL_CONFIG_DIR;
}

}  // namespace llada
