#include "scorers/builtin_filters.h"

#include "core/text.h"

namespace llada {

RegexFilter::RegexFilter(const std::string& pattern, int group_select, std::string fallback,
                         const std::string& origin)
    : regex_(pattern, origin), group_select_(group_select), fallback_(std::move(fallback)) {}

std::string RegexFilter::Extract(const std::string& response) const {
  const auto matches = regex_.FindAll(response);
  if (matches.empty()) return fallback_;
  const long count = static_cast<long>(matches.size());
  long index = group_select_ < 0 ? count + group_select_ : group_select_;
  if (index < 0 || index >= count) return fallback_;  // Python would raise IndexError
  const auto& match = matches[static_cast<size_t>(index)];
  std::string selected;
  if (match.size() == 1) {
    selected = match[0];
  } else {
    bool found = false;
    for (const auto& group : match) {
      if (!group.empty()) {
        selected = group;
        found = true;
        break;
      }
    }
    if (!found) selected = fallback_;
  }
  return PyStrip(selected);
}

std::vector<std::string> RegexFilter::Apply(std::vector<std::string> responses) const {
  for (auto& response : responses) response = Extract(response);
  return responses;
}

std::vector<std::string> TakeFirstFilter::Apply(std::vector<std::string> responses) const {
  if (responses.size() > 1) responses.resize(1);
  return responses;
}

}  // namespace llada
