// PyRegex and the regex filter against CPython's `re` (expected values were
// printed by CPython 3.11 for the same inputs).
#include <gtest/gtest.h>

#include "core/errors.h"
#include "scorers/builtin_filters.h"
#include "scorers/py_regex.h"

namespace llada {
namespace {

TEST(PyRegexTest, TrailingDollarMatchesBeforeAFinalNewlineLikePython) {
  // re.sub(r"\.$", "", s) for each s.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"12.", "12"},     {"12.\n", "12\n"}, {"12.\n\n", "12.\n\n"}, {"1.5", "1.5"},
      {"a.b.", "a.b"},   {"$1,234.", "$1,234"}, {"x\n", "x\n"},     {".", ""},
      {".\n", "\n"},     {"The answer is 5.\n#### 5.", "The answer is 5.\n#### 5"}};
  PyRegex regex("\\.$", "test");
  for (const auto& [input, expected] : cases) EXPECT_EQ(regex.SubEmpty(input), expected) << input;
}

TEST(PyRegexTest, DotAllGreedyPrefixRemoval) {
  EXPECT_EQ(PyRegex("(?s).*#### ", "test").SubEmpty("a #### b\n#### 12"), "12");
}

TEST(PyRegexTest, FindAllReturnsGroupsLikePython) {
  PyRegex regex("(-?[$0-9.,]{2,})|(-?[0-9]+)", "test");
  // re.findall(...) on "a 12 b 3" == [('12', ''), ('', '3')]
  EXPECT_EQ(regex.FindAll("a 12 b 3"),
            (std::vector<std::vector<std::string>>{{"12", ""}, {"", "3"}}));
  EXPECT_EQ(regex.FindAll("$1,000.00 and 5"),
            (std::vector<std::vector<std::string>>{{"$1,000.00", ""}, {"", "5"}}));
}

TEST(PyRegexTest, BackslashDIsUnicodeAwareLikePython) {
  // re.findall(r"\d+", "٣٤ and 12") == ['٣٤', '12']
  EXPECT_EQ(PyRegex("\\d+", "test").FindAll("\u0663\u0664 and 12"),
            (std::vector<std::vector<std::string>>{{"\u0663\u0664"}, {"12"}}));
}

TEST(PyRegexTest, LookaroundIsRejectedWithTheOrigin) {
  try {
    PyRegex("(?<=the answer is )(.*)(?=.)", "configs/tasks/bbh.json");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("configs/tasks/bbh.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("lookaround"), std::string::npos);
  }
  EXPECT_THROW(PyRegex("a(?!b)", "t"), UserError);
  EXPECT_THROW(PyRegex("(unclosed", "t"), UserError);
}

TEST(RegexFilterTest, Gsm8kStrictAndFlexible) {
  RegexFilter strict("#### (\\-?[0-9\\.\\,]+)", 0, "[invalid]", "test");
  RegexFilter flexible("(-?[$0-9.,]{2,})|(-?[0-9]+)", -1, "[invalid]", "test");
  EXPECT_EQ(strict.Extract("so 5.\n#### 1,200\n#### 7"), "1,200");  // first match
  EXPECT_EQ(strict.Extract("The answer is 12"), "[invalid]");
  EXPECT_EQ(flexible.Extract("So 7 teams."), "7");                  // last match, non-empty group
  EXPECT_EQ(flexible.Extract("It costs $12.50."), "$12.50.");
  EXPECT_EQ(flexible.Extract("no digits"), "[invalid]");
}

TEST(RegexFilterTest, LinearTimeOnAdversarialInput) {
  // A catastrophic-backtracking input for a backtracking engine; RE2 is linear.
  RegexFilter filter("(a+)+b", 0, "[invalid]", "test");
  EXPECT_EQ(filter.Extract(std::string(100000, 'a')), "[invalid]");
}

}  // namespace
}  // namespace llada
