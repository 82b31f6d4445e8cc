// The subset of Jinja that lm-evaluation-harness's task templates use.
//
//   literal text {{ name }} {{ name[0] }} {{ name.strip() }} {{ name.replace('_', ' ') }}
//   {{ choices.text }} {{ choices.label.index(answerKey) }} {{ [sol1, sol2] }}
//
// Variables come from the document first, then from the task (e.g. MMLU's
// `subject`). Anything outside the subset is a UserError naming the template's
// origin, so a config can never render something silently different.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llada {

class PromptTemplate {
 public:
  // `origin` names the config file and field, for error messages.
  PromptTemplate(std::string source, std::string origin);

  const std::string& source() const { return source_; }

  // Renders to text. Values are inserted as Python's str() would: strings
  // as they are, integers in decimal.
  std::string Render(const nlohmann::json& doc, const nlohmann::json& task_vars) const;

  // When the whole template is one expression, its value unconverted (a list
  // for `{{choices}}`, an int for `{{answer}}`); otherwise the rendered text.
  nlohmann::json Evaluate(const nlohmann::json& doc, const nlohmann::json& task_vars) const;

 private:
  nlohmann::json EvaluateExpression(const std::string& expression, const nlohmann::json& doc,
                                    const nlohmann::json& task_vars) const;
  nlohmann::json ParseExpression(const std::string& expression, size_t* pos, const std::string& raw,
                                 const nlohmann::json& doc, const nlohmann::json& task_vars) const;
  std::string source_;
  std::string origin_;
};

// Python's str() for the JSON values templates produce.
std::string PyStr(const nlohmann::json& value);

}  // namespace llada
