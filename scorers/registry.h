// Filters and metrics by name: task configs refer to them as lm-eval's YAML
// does ({"function": "regex"}, {"metric": "exact_match"}). Everything built in
// is registered in RegisterBuiltinScorers(), the folder's one registration point.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "scorers/filter.h"
#include "scorers/metrics.h"

namespace llada {

using ChoiceMetricFactory =
    std::function<std::unique_ptr<ChoiceMetric>(const nlohmann::json& config, const std::string& origin)>;
using TextMetricFactory =
    std::function<std::unique_ptr<TextMetric>(const nlohmann::json& config, const std::string& origin)>;

class ScorerRegistry {
 public:
  void RegisterFilter(const std::string& name, FilterFactory factory);
  void RegisterChoiceMetric(const std::string& name, ChoiceMetricFactory factory);
  void RegisterTextMetric(const std::string& name, TextMetricFactory factory);

  // {"name": "strict-match", "filter": [{"function": "regex", ...}, ...]}
  std::unique_ptr<FilterPipeline> BuildPipeline(const nlohmann::json& entry, const std::string& origin) const;
  std::unique_ptr<ChoiceMetric> BuildChoiceMetric(const nlohmann::json& entry, const std::string& origin) const;
  std::unique_ptr<TextMetric> BuildTextMetric(const nlohmann::json& entry, const std::string& origin) const;

 private:
  std::map<std::string, FilterFactory> filters_;
  std::map<std::string, ChoiceMetricFactory> choice_metrics_;
  std::map<std::string, TextMetricFactory> text_metrics_;
};

void RegisterBuiltinScorers(ScorerRegistry& registry);

// The registry with every built-in filter and metric, built once.
const ScorerRegistry& BuiltinScorers();

}  // namespace llada
