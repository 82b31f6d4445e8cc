// PCRE2 (with JIT) for the tokenizer's split patterns: they need lookahead,
// possessive quantifiers and Unicode properties, which RE2 lacks. These run on
// the user's input text, not on model output; patterns come from tokenizer.json.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llada::tokenizer {

class PcreRegex {
 public:
  // Throws UserError naming `origin` when the pattern does not compile.
  PcreRegex(const std::string& pattern, const std::string& origin);
  ~PcreRegex();
  PcreRegex(const PcreRegex&) = delete;
  PcreRegex& operator=(const PcreRegex&) = delete;

  // Byte ranges [start, end) of successive non-overlapping matches.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llada::tokenizer
