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

// The expressions lm-eval's ARC and PIQA templates use.
TEST(TemplateTest, AttributesIndexAndListLiterals) {
  const nlohmann::json arc = {{"choices", {{"text", {"a", "b", "c"}}, {"label", {"A", "B", "C"}}}}, {"answerKey", "C"}};
  EXPECT_EQ(PromptTemplate("{{choices.text}}", "t").Evaluate(arc, {}), nlohmann::json({"a", "b", "c"}));
  EXPECT_EQ(PromptTemplate("{{choices.label.index(answerKey)}}", "t").Evaluate(arc, {}), 2);
  EXPECT_EQ(PromptTemplate("{{ [sol1, sol2] }}", "t").Evaluate({{"sol1", "x"}, {"sol2", "y"}}, {}),
            nlohmann::json({"x", "y"}));
  // Python's list.index raises for a missing value: that document fails alone.
  EXPECT_THROW(PromptTemplate("{{choices.label.index(answerKey)}}", "t").Evaluate(
                   {{"choices", {{"label", {"A"}}}}, {"answerKey", "E"}}, {}),
               SampleError);
  EXPECT_THROW(PromptTemplate("{{choices.nothing}}", "t").Evaluate(arc, {}), UserError);
  EXPECT_THROW(PromptTemplate("{{choices.text.upper()}}", "t").Evaluate(arc, {}), UserError);
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
