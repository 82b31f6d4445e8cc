#include "scorers/py_regex.h"

#include "core/errors.h"

namespace llada {
namespace {

// Python's str.isspace() set, as an RE2 class body.
const char kPyWhitespace[] = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
                             "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}";

}  // namespace

PyRegex::PyRegex(const std::string& pattern, const std::string& origin)
    : python_pattern_(pattern), origin_(origin) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char next = pattern[++i];
      if (next == 'd') {
        out += "\\p{Nd}";
      } else if (next == 'w') {
        out += in_class ? "\\p{L}\\p{N}_" : "[\\p{L}\\p{N}_]";
      } else if (next == 's') {
        out += in_class ? std::string(kPyWhitespace) : "[" + std::string(kPyWhitespace) + "]";
      } else if (next == 'Z') {
        out += "\\z";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c == '(' && i + 2 < pattern.size() && pattern[i + 1] == '?' &&
        (pattern[i + 2] == '=' || pattern[i + 2] == '!' ||
         (pattern[i + 2] == '<' && i + 3 < pattern.size() &&
          (pattern[i + 3] == '=' || pattern[i + 3] == '!')))) {
      throw UserError::InFile(origin, pattern,
                              "lookaround is not available on RE2; write the equivalent RE2 "
                              "form (see configs/README.md)");
    }
    if (c == '$') {
      if (i + 1 != pattern.size())
        throw UserError::InFile(origin, pattern, "'$' is only supported at the end of a pattern");
      ends_with_dollar_ = true;
      continue;
    }
    out += c;
  }
  // Python's `$`: end of text, or just before a final newline. The newline is
  // captured in a trailing group so Sub() can put it back.
  re2_pattern_ = ends_with_dollar_ ? "(?:" + out + ")(\\n?)\\z" : out;
  RE2::Options options;
  options.set_log_errors(false);
  regex_ = std::make_unique<RE2>(re2_pattern_, options);
  if (!regex_->ok())
    throw UserError::InFile(origin, pattern, "invalid regular expression: " + regex_->error());
}

std::vector<std::vector<std::string>> PyRegex::FindAll(const std::string& text) const {
  if (ends_with_dollar_)
    throw UserError::InFile(origin_, python_pattern_, "'$' is not supported in extraction filters");
  const int groups = regex_->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> captures(groups + 1);
  std::vector<std::vector<std::string>> matches;
  size_t pos = 0;
  const re2::StringPiece input(text);
  while (pos <= text.size()) {
    if (!regex_->Match(input, pos, text.size(), RE2::UNANCHORED, captures.data(), groups + 1)) break;
    std::vector<std::string> match;
    if (groups == 0) {
      match.emplace_back(captures[0].data(), captures[0].size());
    } else {
      for (int g = 1; g <= groups; ++g)
        match.emplace_back(captures[g].data() ? std::string(captures[g].data(), captures[g].size())
                                              : std::string());
    }
    matches.push_back(std::move(match));
    size_t match_end = static_cast<size_t>(captures[0].data() - text.data()) + captures[0].size();
    if (captures[0].empty()) {
      // Step over one UTF-8 code point after an empty match, as Python does.
      ++match_end;
      while (match_end < text.size() && (static_cast<unsigned char>(text[match_end]) & 0xc0) == 0x80)
        ++match_end;
    }
    pos = match_end;
  }
  return matches;
}

std::string PyRegex::SubEmpty(const std::string& text) const {
  std::string result = text;
  const std::string rewrite =
      ends_with_dollar_ ? "\\" + std::to_string(regex_->NumberOfCapturingGroups()) : "";
  RE2::GlobalReplace(&result, *regex_, rewrite);
  return result;
}

}  // namespace llada
