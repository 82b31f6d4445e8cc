// Filters: named pipelines that turn a document's raw responses into the
// answer the metrics compare (lm-eval's filter_list: regex -> take_first).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llada {

class Filter {
 public:
  virtual ~Filter() = default;
  // Maps the list of responses for one document to a new list.
  virtual std::vector<std::string> Apply(std::vector<std::string> responses) const = 0;
};

// One entry of a task's filter_list: a name ("strict-match") and its steps.
class FilterPipeline {
 public:
  FilterPipeline(std::string name, std::vector<std::unique_ptr<Filter>> steps);
  const std::string& name() const { return name_; }
  // The filtered answer for a document (the first element left).
  std::string Run(const std::vector<std::string>& responses) const;

 private:
  std::string name_;
  std::vector<std::unique_ptr<Filter>> steps_;
};

// Builds a filter step from its config object ({"function": "regex", ...}).
// `origin` names the config for error messages.
using FilterFactory =
    std::function<std::unique_ptr<Filter>(const nlohmann::json& config, const std::string& origin)>;

}  // namespace llada
