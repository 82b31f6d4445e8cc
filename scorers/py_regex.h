// Python `re` patterns evaluated on RE2.
//
// Filters run on untrusted model output, so every regex runs on RE2 (linear
// time: no catastrophic backtracking). lm-evaluation-harness writes its
// patterns for Python's `re`; PyRegex translates the constructs whose meaning
// differs and rejects the ones RE2 cannot express, so a config never silently
// matches something else:
//   \d \w \s     Unicode-aware in Python (str patterns), ASCII in RE2:
//                rewritten to \p{Nd}, [\p{L}\p{N}_], and Python's whitespace set.
//   trailing $   Python also matches before a final "\n": supported in Sub()
//                (the newline is kept), rejected in FindAll().
//   lookaround   (?=, (?!, (?<=, (?<!: rejected; the config must use an RE2
//                form proved equivalent by a test (see configs/README.md).
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <vector>

namespace llada {

class PyRegex {
 public:
  // Throws UserError naming `origin` when the pattern is unsupported.
  PyRegex(const std::string& python_pattern, const std::string& origin);

  const std::string& python_pattern() const { return python_pattern_; }
  const std::string& re2_pattern() const { return re2_pattern_; }
  int NumGroups() const { return regex_->NumberOfCapturingGroups() - (ends_with_dollar_ ? 1 : 0); }

  // re.findall: each match's groups (the whole match when there are none);
  // groups that did not take part are "".
  std::vector<std::vector<std::string>> FindAll(const std::string& text) const;

  // re.sub(pattern, "", text): every non-overlapping match removed.
  std::string SubEmpty(const std::string& text) const;

 private:
  std::string python_pattern_;
  std::string re2_pattern_;
  std::string origin_;
  bool ends_with_dollar_ = false;
  std::unique_ptr<RE2> regex_;
};

}  // namespace llada
