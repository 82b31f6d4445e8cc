#include "scorers/registry.h"

#include "core/errors.h"
#include "scorers/code_execution.h"
#include "core/text.h"
#include "scorers/builtin_filters.h"

namespace llada {
namespace {

template <typename Map>
const typename Map::mapped_type& Lookup(const Map& map, const std::string& name, const std::string& kind,
                                        const std::string& origin) {
  auto it = map.find(name);
  if (it == map.end()) {
    std::vector<std::string> known;
    for (const auto& entry : map) known.push_back(entry.first);
    throw UserError::InFile(origin, kind, "unknown " + kind + " '" + name + "' (known: " + Join(known, ", ") + ")");
  }
  return it->second;
}

template <typename Map, typename Factory>
void Add(Map& map, const std::string& name, Factory factory) {
  if (!map.emplace(name, std::move(factory)).second) throw InternalError("registered twice: " + name);
}

}  // namespace

void ScorerRegistry::RegisterFilter(const std::string& name, FilterFactory factory) {
  Add(filters_, name, std::move(factory));
}
void ScorerRegistry::RegisterChoiceMetric(const std::string& name, ChoiceMetricFactory factory) {
  Add(choice_metrics_, name, std::move(factory));
}
void ScorerRegistry::RegisterTextMetric(const std::string& name, TextMetricFactory factory) {
  Add(text_metrics_, name, std::move(factory));
}

std::unique_ptr<FilterPipeline> ScorerRegistry::BuildPipeline(const nlohmann::json& entry,
                                                              const std::string& origin) const {
  if (!entry.is_object() || !entry.contains("name") || !entry.contains("filter") ||
      !entry.at("filter").is_array())
    throw UserError::InFile(origin, "filter_list", "each entry needs \"name\" and a \"filter\" list");
  std::vector<std::unique_ptr<Filter>> steps;
  for (const auto& step : entry.at("filter")) {
    if (!step.is_object() || !step.contains("function"))
      throw UserError::InFile(origin, "filter_list", "each filter step needs \"function\"");
    const std::string function = step.at("function").get<std::string>();
    steps.push_back(Lookup(filters_, function, "filter", origin)(step, origin));
  }
  return std::make_unique<FilterPipeline>(entry.at("name").get<std::string>(), std::move(steps));
}

std::unique_ptr<ChoiceMetric> ScorerRegistry::BuildChoiceMetric(const nlohmann::json& entry,
                                                                const std::string& origin) const {
  // "function" picks the implementation when the reported name differs
  // (TruthfulQA mc2 reports its score as "acc").
  const std::string function = entry.value("function", entry.at("metric").get<std::string>());
  return Lookup(choice_metrics_, function, "metric", origin)(entry, origin);
}

std::unique_ptr<TextMetric> ScorerRegistry::BuildTextMetric(const nlohmann::json& entry,
                                                            const std::string& origin) const {
  const std::string function = entry.value("function", entry.at("metric").get<std::string>());
  return Lookup(text_metrics_, function, "metric", origin)(entry, origin);
}

void RegisterBuiltinScorers(ScorerRegistry& registry) {
  registry.RegisterFilter("regex", [](const nlohmann::json& config, const std::string& origin) {
    return std::make_unique<RegexFilter>(config.value("regex_pattern", std::string(R"(#### (\-?[0-9\.\,]+))")),
                                         config.value("group_select", 0),
                                         config.value("fallback", std::string("[invalid]")), origin);
  });
  registry.RegisterFilter("take_first", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<TakeFirstFilter>();
  });
  registry.RegisterChoiceMetric("acc", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<AccuracyMetric>();
  });
  registry.RegisterTextMetric("contains", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<ContainsMetric>();
  });
  // Code tasks: the assembled programs run in the sandbox. "pass@1" by name;
  // any other k as {"metric": "pass@10", "function": "pass_at_k", "k": 10}.
  registry.RegisterTextMetric("pass@1", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<PassAtKMetric>(1);
  });
  registry.RegisterTextMetric("pass_at_k", [](const nlohmann::json& config, const std::string& origin) {
    if (!config.contains("k") || !config.at("k").is_number_integer() || config.at("k").get<int>() < 1)
      throw UserError::InFile(origin, "metric_list[].k", "pass_at_k needs a whole number k >= 1");
    return std::make_unique<PassAtKMetric>(config.at("k").get<int>());
  });
  registry.RegisterTextMetric("minerva_math", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<MinervaMathMetric>();
  });
  registry.RegisterChoiceMetric("mc2", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<TruthfulQaMc2Metric>();
  });
  registry.RegisterChoiceMetric("acc_norm", [](const nlohmann::json&, const std::string&) {
    return std::make_unique<NormalizedAccuracyMetric>();
  });
  registry.RegisterTextMetric("exact_match", [](const nlohmann::json& config, const std::string& origin) {
    return std::make_unique<ExactMatchMetric>(
        config.value("regexes_to_ignore", std::vector<std::string>{}), config.value("ignore_case", false),
        config.value("ignore_punctuation", false), origin);
  });
}

const ScorerRegistry& BuiltinScorers() {
  static const ScorerRegistry registry = [] {
    ScorerRegistry r;
    RegisterBuiltinScorers(r);
    return r;
  }();
  return registry;
}

}  // namespace llada
