#include "tasks/config_schema.h"

#include <vector>

#include "core/errors.h"

namespace llada {
namespace {

enum class Kind {
  kString,
  kInteger,
  kBoolean,
  kNumber,
  kStringOrNull,
  kStringOrList,  // a template string, or a list of them
  kStringList,
  kObject,      // with the listed fields
  kObjectList,  // a list of objects with the listed fields
  kFreeObject,  // any keys: data, e.g. a family member's variables, split file names
  kAny,         // notes and provenance: not read
};

struct Field {
  const char* name;
  Kind kind;
  const std::vector<Field>* fields = nullptr;  // kObject, kObjectList
};

const std::vector<Field> kFilterStep = {
    {"function", Kind::kString}, {"regex_pattern", Kind::kString}, {"group_select", Kind::kInteger},
    {"fallback", Kind::kString}, {"ignore_case", Kind::kBoolean},  {"lm_eval", Kind::kAny},
};
const std::vector<Field> kFilter = {{"name", Kind::kString}, {"filter", Kind::kObjectList, &kFilterStep}};
const std::vector<Field> kMetric = {
    {"metric", Kind::kString},
    {"function", Kind::kString},
    {"aggregation", Kind::kString},
    {"higher_is_better", Kind::kBoolean},
    {"ignore_case", Kind::kBoolean},
    {"ignore_punctuation", Kind::kBoolean},
    {"regexes_to_ignore", Kind::kStringList},
    {"k", Kind::kInteger},
};
const std::vector<Field> kGeneration = {
    {"until", Kind::kStringOrList},
    {"max_gen_toks", Kind::kInteger},
    {"do_sample", Kind::kBoolean},
    {"temperature", Kind::kNumber},
};
const std::vector<Field> kFewshotConfig = {{"sampler", Kind::kString}, {"samples", Kind::kAny}};
const std::vector<Field> kDataset = {
    {"loader", Kind::kString},         {"splits", Kind::kFreeObject}, {"split_loaders", Kind::kFreeObject},
    {"split_rows", Kind::kFreeObject}, {"where", Kind::kFreeObject},  {"archive_password", Kind::kString},
};
const std::vector<Field> kTask = {
    {"task", Kind::kString},
    {"version", Kind::kInteger},
    {"output_type", Kind::kString},
    {"dataset", Kind::kObject, &kDataset},
    {"test_split", Kind::kString},
    {"fewshot_split", Kind::kStringOrNull},
    {"fewshot_config", Kind::kObject, &kFewshotConfig},
    {"fewshot_random_seed", Kind::kInteger},
    {"fewshot_fallback", Kind::kAny},
    {"num_fewshot", Kind::kInteger},
    {"description", Kind::kString},
    {"doc_to_text", Kind::kString},
    {"doc_to_target", Kind::kString},
    {"doc_to_target_fewshot", Kind::kString},
    {"doc_to_choice", Kind::kStringOrList},
    {"doc_to_labels", Kind::kString},
    {"target_delimiter", Kind::kString},
    {"fewshot_delimiter", Kind::kString},
    {"generation_kwargs", Kind::kObject, &kGeneration},
    {"filter_list", Kind::kObjectList, &kFilter},
    {"metric_list", Kind::kObjectList, &kMetric},
    {"program", Kind::kString},
    {"reference_program", Kind::kString},
    {"repeats", Kind::kInteger},
    {"aliases", Kind::kStringList},
    {"note", Kind::kAny},
    {"source", Kind::kAny},
};
const std::vector<Field> kGroupMetric = {
    {"metric", Kind::kString},
    {"filter_list", Kind::kString},
    {"weight_by_size", Kind::kBoolean},
    {"aggregation", Kind::kString},
};
const std::vector<Field> kGroup = {
    {"group", Kind::kString},
    {"version", Kind::kInteger},
    {"task", Kind::kStringList},
    {"members_where", Kind::kFreeObject},
    {"aggregate_metric_list", Kind::kObjectList, &kGroupMetric},
    {"aliases", Kind::kStringList},
    {"note", Kind::kAny},
    {"source", Kind::kAny},
};
const std::vector<Field> kFamily = {
    {"family", Kind::kString},
    {"task_template", Kind::kObject, &kTask},
    {"members", Kind::kAny},  // checked below: a list of variable objects
    {"groups", Kind::kObjectList, &kGroup},
    {"note", Kind::kAny},
    {"source", Kind::kAny},
};

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kInteger:
      return "an integer";
    case Kind::kBoolean:
      return "true or false";
    case Kind::kNumber:
      return "a number";
    case Kind::kStringOrNull:
      return "a string or null";
    case Kind::kStringOrList:
      return "a string or a list of strings";
    case Kind::kStringList:
      return "a list of strings";
    case Kind::kObject:
    case Kind::kFreeObject:
      return "an object";
    case Kind::kObjectList:
      return "a list of objects";
    case Kind::kAny:
      return "anything";
  }
  return "?";
}

bool IsStringList(const nlohmann::json& value) {
  if (!value.is_array()) return false;
  for (const auto& item : value)
    if (!item.is_string()) return false;
  return true;
}

bool HasKind(const nlohmann::json& value, Kind kind) {
  switch (kind) {
    case Kind::kString:
      return value.is_string();
    case Kind::kInteger:
      return value.is_number_integer();
    case Kind::kBoolean:
      return value.is_boolean();
    case Kind::kNumber:
      return value.is_number();
    case Kind::kStringOrNull:
      return value.is_string() || value.is_null();
    case Kind::kStringOrList:
      return value.is_string() || IsStringList(value);
    case Kind::kStringList:
      return IsStringList(value);
    case Kind::kObject:
    case Kind::kFreeObject:
      return value.is_object();
    case Kind::kObjectList:
      return value.is_array();
    case Kind::kAny:
      return true;
  }
  return false;
}

void CheckObject(const nlohmann::json& object, const std::vector<Field>& fields, const std::string& path,
                 const std::string& origin) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string key_path = path.empty() ? it.key() : path + "." + it.key();
    const Field* field = nullptr;
    for (const auto& candidate : fields)
      if (it.key() == candidate.name) field = &candidate;
    if (!field) {
      std::string known;
      for (const auto& candidate : fields) known += (known.empty() ? "" : ", ") + std::string(candidate.name);
      throw UserError::InFile(origin, key_path, "unknown key (known here: " + known + ")");
    }
    if (!HasKind(it.value(), field->kind))
      throw UserError::InFile(origin, key_path, std::string("expected ") + KindName(field->kind));
    if (field->kind == Kind::kObject) CheckObject(it.value(), *field->fields, key_path, origin);
    if (field->kind == Kind::kObjectList) {
      for (size_t i = 0; i < it.value().size(); ++i) {
        const std::string item_path = key_path + "[" + std::to_string(i) + "]";
        if (!it.value()[i].is_object()) throw UserError::InFile(origin, item_path, "expected an object");
        CheckObject(it.value()[i], *field->fields, item_path, origin);
      }
    }
  }
}

// The backends decode greedily (LLaDA's temperature is a backend setting,
// --temperature): a config asking for sampling would be silently ignored.
void CheckGeneration(const nlohmann::json& task, const std::string& path, const std::string& origin) {
  if (!task.contains("generation_kwargs")) return;
  const auto& kwargs = task.at("generation_kwargs");
  if (kwargs.value("do_sample", false))
    throw UserError::InFile(origin, path + "generation_kwargs.do_sample",
                            "sampling is not supported: the backends decode greedily (LLaDA: set --temperature)");
  if (kwargs.contains("temperature") && kwargs.at("temperature").get<double>() != 0.0)
    throw UserError::InFile(origin, path + "generation_kwargs.temperature",
                            "only 0 (greedy) is supported here; LLaDA's sampling temperature is --temperature");
}

}  // namespace

void CheckTaskConfigFile(const nlohmann::json& config, const std::string& origin) {
  if (!config.is_object()) throw UserError::InFile(origin, "", "expected a JSON object");
  if (config.contains("family")) {
    CheckObject(config, kFamily, "", origin);
    if (!config.contains("members") || !config.at("members").is_array())
      throw UserError::InFile(origin, "members", "expected a list of objects (each member's variables)");
    for (size_t i = 0; i < config.at("members").size(); ++i)
      if (!config.at("members")[i].is_object())
        throw UserError::InFile(origin, "members[" + std::to_string(i) + "]", "expected an object");
    if (config.contains("task_template")) CheckGeneration(config.at("task_template"), "task_template.", origin);
  } else if (config.contains("task") && !config.contains("group")) {
    CheckObject(config, kTask, "", origin);
    CheckGeneration(config, "", origin);
  } else if (config.contains("group")) {
    CheckObject(config, kGroup, "", origin);
  }
}

}  // namespace llada
