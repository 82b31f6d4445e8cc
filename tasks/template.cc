#include "tasks/template.h"

#include <algorithm>
#include <cctype>

#include "core/errors.h"
#include "core/text.h"

namespace llada {
namespace {

std::string TrimSpaces(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Parses a quoted Python string literal starting at s[pos]; advances pos.
bool ParseQuoted(const std::string& s, size_t* pos, std::string* out) {
  if (*pos >= s.size() || (s[*pos] != '\'' && s[*pos] != '"')) return false;
  char quote = s[(*pos)++];
  out->clear();
  while (*pos < s.size() && s[*pos] != quote) {
    if (s[*pos] == '\\' && *pos + 1 < s.size()) {
      char next = s[++*pos];
      out->push_back(next == 'n' ? '\n' : next == 't' ? '\t' : next);
    } else {
      out->push_back(s[*pos]);
    }
    ++*pos;
  }
  if (*pos >= s.size()) return false;
  ++*pos;
  return true;
}

void SkipSpaces(const std::string& s, size_t* pos) {
  while (*pos < s.size() && s[*pos] == ' ') ++*pos;
}

}  // namespace

std::string PyStr(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_null()) return "None";
  return value.dump();
}

PromptTemplate::PromptTemplate(std::string source, std::string origin)
    : source_(std::move(source)), origin_(std::move(origin)) {}

nlohmann::json PromptTemplate::EvaluateExpression(const std::string& raw, const nlohmann::json& doc,
                                                  const nlohmann::json& task_vars) const {
  const std::string expression = TrimSpaces(raw);
  size_t pos = 0;
  nlohmann::json value = ParseExpression(expression, &pos, raw, doc, task_vars);
  if (pos != expression.size())
    throw UserError::InFile(origin_, "", "unsupported template expression '{{" + raw + "}}'");
  return value;
}

// expression := primary postfix*
// primary    := '[' expression (',' expression)* ']' | 'string' | name
// postfix    := '[' digits ']' | '.' name | '.strip()' | '.replace(str, str)' | '.index(expression)'
nlohmann::json PromptTemplate::ParseExpression(const std::string& expression, size_t* pos, const std::string& raw,
                                               const nlohmann::json& doc, const nlohmann::json& task_vars) const {
  auto unsupported = [&](const std::string& field) {
    return UserError::InFile(origin_, field, "unsupported template expression '{{" + raw + "}}'");
  };
  auto identifier = [&]() {
    const size_t start = *pos;
    while (*pos < expression.size() &&
           (std::isalnum(static_cast<unsigned char>(expression[*pos])) || expression[*pos] == '_'))
      ++*pos;
    return expression.substr(start, *pos - start);
  };
  SkipSpaces(expression, pos);
  nlohmann::json value;
  std::string name;  // for error messages
  if (*pos < expression.size() && expression[*pos] == '[') {  // a list literal: [sol1, sol2], ['A', 'B']
    ++*pos;
    name = "[...]";
    value = nlohmann::json::array();
    while (true) {
      value.push_back(ParseExpression(expression, pos, raw, doc, task_vars));
      SkipSpaces(expression, pos);
      if (*pos < expression.size() && expression[*pos] == ',') {
        ++*pos;
        continue;
      }
      if (*pos < expression.size() && expression[*pos] == ']') {
        ++*pos;
        break;
      }
      throw unsupported("");
    }
  } else if (*pos < expression.size() && (expression[*pos] == '\'' || expression[*pos] == '"')) {
    std::string literal;
    if (!ParseQuoted(expression, pos, &literal)) throw unsupported("");
    name = "'" + literal + "'";
    value = literal;
  } else {
    name = identifier();
    if (name.empty()) throw unsupported("");
    if (doc.is_object() && doc.contains(name)) {
      value = doc.at(name);
    } else if (task_vars.is_object() && task_vars.contains(name)) {
      value = task_vars.at(name);
    } else {
      throw UserError::InFile(origin_, name, "template variable not found in the document");
    }
  }
  while (*pos < expression.size()) {
    const char c = expression[*pos];
    if (c == '[') {
      size_t close = expression.find(']', *pos);
      std::string index_text = close == std::string::npos ? "" : expression.substr(*pos + 1, close - *pos - 1);
      if (!IsAsciiDigits(index_text) || !value.is_array())
        throw UserError::InFile(origin_, name, "unsupported index in '{{" + raw + "}}'");
      size_t index = std::stoul(index_text);
      if (index >= value.size()) throw UserError::InFile(origin_, name, "index " + index_text + " out of range");
      value = value.at(index);
      *pos = close + 1;
      continue;
    }
    if (c != '.') break;
    ++*pos;
    const std::string member = identifier();
    const bool call = *pos < expression.size() && expression[*pos] == '(';
    if (!call) {  // attribute: choices.text
      if (!value.is_object() || !value.contains(member))
        throw UserError::InFile(origin_, name + "." + member, "no such field in the document");
      value = value.at(member);
      continue;
    }
    ++*pos;
    SkipSpaces(expression, pos);
    if (member == "strip") {
      if (!value.is_string()) throw UserError::InFile(origin_, name, "strip() on a non-string");
      value = PyStrip(value.get<std::string>());
    } else if (member == "replace") {
      std::string from, to;
      bool ok = ParseQuoted(expression, pos, &from);
      SkipSpaces(expression, pos);
      ok = ok && *pos < expression.size() && expression[(*pos)++] == ',';
      SkipSpaces(expression, pos);
      ok = ok && ParseQuoted(expression, pos, &to);
      if (!ok || !value.is_string() || from.empty())
        throw UserError::InFile(origin_, name, "unsupported replace() in '{{" + raw + "}}'");
      value = ReplaceAll(value.get<std::string>(), from, to);
    } else if (member == "index") {  // list.index(x): Python raises when x is absent
      const nlohmann::json needle = ParseExpression(expression, pos, raw, doc, task_vars);
      if (!value.is_array()) throw UserError::InFile(origin_, name, "index() on a non-list");
      auto it = std::find(value.begin(), value.end(), needle);
      if (it == value.end()) throw SampleError(name + ".index(" + PyStr(needle) + "): not in the list");
      value = static_cast<int64_t>(it - value.begin());
    } else {
      throw unsupported(name);
    }
    SkipSpaces(expression, pos);
    if (*pos >= expression.size() || expression[(*pos)++] != ')') throw unsupported(name);
  }
  return value;
}

std::string PromptTemplate::Render(const nlohmann::json& doc, const nlohmann::json& task_vars) const {
  std::string out;
  size_t pos = 0;
  while (pos < source_.size()) {
    size_t open = source_.find("{{", pos);
    if (open == std::string::npos) {
      out.append(source_, pos, std::string::npos);
      break;
    }
    out.append(source_, pos, open - pos);
    size_t close = source_.find("}}", open + 2);
    if (close == std::string::npos) throw UserError::InFile(origin_, "", "unterminated '{{' in template");
    out += PyStr(EvaluateExpression(source_.substr(open + 2, close - open - 2), doc, task_vars));
    pos = close + 2;
  }
  if (source_.find("{%") != std::string::npos)
    throw UserError::InFile(origin_, "", "Jinja statements ({% ... %}) are not supported");
  return out;
}

nlohmann::json PromptTemplate::Evaluate(const nlohmann::json& doc, const nlohmann::json& task_vars) const {
  if (StartsWith(source_, "{{") && EndsWith(source_, "}}") &&
      source_.find("{{", 2) == std::string::npos) {
    return EvaluateExpression(source_.substr(2, source_.size() - 4), doc, task_vars);
  }
  return Render(doc, task_vars);
}

}  // namespace llada
