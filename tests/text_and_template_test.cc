// Python-semantics string helpers and the lm-eval template subset.
#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/text.h"
#include "tasks/template.h"

namespace llada {
namespace {

TEST(TextTest, PyStripRemovesUnicodeWhitespace) {
  EXPECT_EQ(PyStrip("  x\u00a0\u3000 "), "x");  // CPython: '  x\xa0\u3000 '.strip() == 'x'
  EXPECT_EQ(PyStrip("\t\n a b \r\n"), "a b");
  EXPECT_EQ(PyStrip(""), "");
  EXPECT_EQ(PyStrip("   "), "");
  EXPECT_EQ(PyRStrip("  a  "), "  a");
}

TEST(TextTest, PyLowerHandlesNonAscii) {
  EXPECT_EQ(PyLower("ÄBC Straße ΣΑ"), "äbc straße σα");
  EXPECT_EQ(PyLower("[INVALID]"), "[invalid]");
}

TEST(TextTest, ReplaceSplitJoin) {
  EXPECT_EQ(ReplaceAll("high_school_us_history", "_", " "), "high school us history");
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_TRUE(IsAsciiDigits("012"));
  EXPECT_FALSE(IsAsciiDigits("-1"));
  EXPECT_FALSE(IsAsciiDigits(""));
}

TEST(TemplateTest, RendersMmluStyleTemplate) {
  nlohmann::json doc = {{"question", "  What is 2+2? \n"}, {"choices", {"3", "4", "5", "6"}}, {"answer", 1}};
  PromptTemplate tmpl("{{question.strip()}}\nA. {{choices[0]}}\nB. {{ choices[1] }}\nAnswer:", "test");
  EXPECT_EQ(tmpl.Render(doc, {}), "What is 2+2?\nA. 3\nB. 4\nAnswer:");
  EXPECT_EQ(PromptTemplate("{{answer}}", "test").Render(doc, {}), "1");
  EXPECT_EQ(PromptTemplate("{{choices}}", "test").Evaluate(doc, {}), doc["choices"]);
}

TEST(TemplateTest, TaskVariablesAndReplace) {
  PromptTemplate tmpl("about {{subject.replace('_', ' ')}}.\n\n", "test");
  EXPECT_EQ(tmpl.Render({}, {{"subject", "college_computer_science"}}), "about college computer science.\n\n");
}

TEST(TemplateTest, UnsupportedSyntaxIsAUserErrorNamingTheOrigin) {
  try {
    PromptTemplate("{{question | upper}}", "configs/tasks/x.json: doc_to_text").Render({{"question", "q"}}, {});
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("configs/tasks/x.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(PromptTemplate("{{missing}}", "t").Render({{"question", "q"}}, {}), UserError);
  EXPECT_THROW(PromptTemplate("{{choices[9]}}", "t").Render({{"choices", {"a"}}}, {}), UserError);
  EXPECT_THROW(PromptTemplate("{% if x %}", "t").Render({}, {}), UserError);
}

}  // namespace
}  // namespace llada
