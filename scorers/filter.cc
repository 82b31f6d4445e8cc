#include "scorers/filter.h"

namespace llada {

FilterPipeline::FilterPipeline(std::string name, std::vector<std::unique_ptr<Filter>> steps)
    : name_(std::move(name)), steps_(std::move(steps)) {}

std::string FilterPipeline::Run(const std::vector<std::string>& responses) const {
  std::vector<std::string> current = responses;
  for (const auto& step : steps_) current = step->Apply(std::move(current));
  return current.empty() ? std::string() : current.front();
}

}  // namespace llada
