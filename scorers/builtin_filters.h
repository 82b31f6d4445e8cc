// The filter steps lm-evaluation-harness tasks use (lm_eval/filters/).
#pragma once

#include <string>

#include "scorers/filter.h"
#include "scorers/py_regex.h"

namespace llada {

// lm-eval's RegexFilter: re.findall, pick match `group_select` (negative
// counts from the end), the first non-empty group of a multi-group match,
// strip(); `fallback` when nothing matches.
class RegexFilter : public Filter {
 public:
  RegexFilter(const std::string& pattern, int group_select, std::string fallback,
              const std::string& origin);
  std::vector<std::string> Apply(std::vector<std::string> responses) const override;
  std::string Extract(const std::string& response) const;

 private:
  PyRegex regex_;
  int group_select_;
  std::string fallback_;
};

// Keeps the first response only.
class TakeFirstFilter : public Filter {
 public:
  std::vector<std::string> Apply(std::vector<std::string> responses) const override;
};

}  // namespace llada
