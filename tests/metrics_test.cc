// Metrics and aggregation, against lm-eval's formulas worked by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.h"
#include "scorers/math_answer.h"
#include "scorers/metrics.h"

namespace llada {
namespace {

TEST(MetricsTest, AccBreaksTiesTowardTheFirstIndexLikeNumpyArgmax) {
  AccuracyMetric acc;
  ChoiceOutcome outcome{{-1.0, -1.0, -2.0}, {}, {"a", "b", "c"}, 0};
  EXPECT_EQ(acc.Compute(outcome), 1.0);
  outcome.gold = 1;
  EXPECT_EQ(acc.Compute(outcome), 0.0);
}

TEST(MetricsTest, AccNormDividesByCharactersNotBytes) {
  NormalizedAccuracyMetric acc_norm;
  // "éé" is 2 characters (4 bytes): -3/2 = -1.5 beats -4/2... and "abc" -3.3/3 = -1.1 wins.
  ChoiceOutcome outcome{{-3.0, -3.3}, {}, {"éé", "abc"}, 1};
  EXPECT_EQ(acc_norm.Compute(outcome), 1.0);
  EXPECT_EQ(CodePointLength("éé"), 2u);
}

TEST(MetricsTest, ExactMatchAppliesIgnoreRulesToBothSides) {
  ExactMatchMetric metric({",", "\\$", "(?s).*#### ", "\\.$"}, true, false, "test");
  EXPECT_EQ(metric.Compute("$1,500.", "blah\n#### 1500"), 1.0);
  EXPECT_EQ(metric.Compute("7.00", "#### 7"), 0.0);
  EXPECT_EQ(metric.Normalize("[INVALID]"), "[invalid]");
  ExactMatchMetric punctuation({}, false, true, "test");
  EXPECT_EQ(punctuation.Compute("(A)", "A"), 1.0);
}

TEST(MetricsTest, MeanStderrUsesTheSampleStandardDeviation) {
  const Aggregate a = MeanAggregate({1, 0, 1, 1});
  EXPECT_DOUBLE_EQ(a.value, 0.75);
  ASSERT_TRUE(a.stderr_value.has_value());
  EXPECT_DOUBLE_EQ(*a.stderr_value, 0.25);  // sqrt(0.25) / sqrt(4)
  EXPECT_FALSE(MeanAggregate({1}).stderr_value.has_value());  // lm-eval: N/A
  EXPECT_EQ(MeanAggregate({}).count, 0u);
}

TEST(MetricsTest, GroupAggregationWeightsBySizeAndPoolsStderr) {
  const std::vector<SubtaskAggregate> parts = {{0.75, 0.25, 4}, {0.5, 0.5, 2}};
  const Aggregate weighted = AggregateSubtasks(parts, true);
  EXPECT_DOUBLE_EQ(weighted.value, 4.0 / 6.0);
  EXPECT_EQ(weighted.count, 6u);
  // pooled_sample_stderr: ((3*0.0625*4) + (1*0.25*2)) / (6-2) = 0.3125; sqrt(0.3125/6)
  EXPECT_NEAR(*weighted.stderr_value, std::sqrt(0.3125 / 6.0), 1e-15);
  EXPECT_DOUBLE_EQ(AggregateSubtasks(parts, false).value, 0.625);
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

// lm-eval's minerva normalisation on hand-made answers (beyond the goldens).
TEST(MinervaMathTest, NormalisationFollowsLmEval) {
  EXPECT_EQ(NormalizeFinalAnswer("x = \\frac12"), "\\frac{1}{2}");
  EXPECT_EQ(NormalizeFinalAnswer("\\sqrt2"), "\\sqrt{2}");
  EXPECT_EQ(NormalizeFinalAnswer("100,000"), "100000");
  EXPECT_EQ(NormalizeFinalAnswer("1,2,3"), "123");  // lm-eval drops every comma when only digits remain
  EXPECT_EQ(NormalizeFinalAnswer("5\\text{ cm}"), "5");
  EXPECT_EQ(NormalizeFinalAnswer("\\boxed{7}"), "7");
  EXPECT_EQ(NormalizeFinalAnswer("$\\textbf{12}$ dollars"), "12");
  EXPECT_EQ(RemoveBoxed(*LastBoxedOnlyString("so \\boxed{\\frac{1}{2}} and then \\boxed{3}")), "3");
  EXPECT_EQ(RemoveBoxed(*LastBoxedOnlyString("so $\\boxed 5$.")), "5");
  EXPECT_FALSE(LastBoxedOnlyString("no box").has_value());
  EXPECT_FALSE(LastBoxedOnlyString("\\boxed{unclosed").has_value());
  EXPECT_THROW(RemoveBoxed("\\fbox{3}"), SampleError);
  EXPECT_EQ(GetUnnormalizedAnswer("Final Answer: The final answer is $4$. I hope it is correct."), "$4$");
  EXPECT_EQ(GetUnnormalizedAnswer("no final answer"), "[invalidanswer]");
}

TEST(MinervaMathTest, EquivalenceStandsInForSympy) {
  EXPECT_TRUE(MathAnswersEquivalent("0.5", "\\frac{1}{2}"));
  EXPECT_TRUE(MathAnswersEquivalent("2\\sqrt{2}", "\\sqrt{8}"));
  EXPECT_TRUE(MathAnswersEquivalent("\\dfrac{\\pi}{2}", "\\frac{\\pi}{2}"));
  EXPECT_TRUE(MathAnswersEquivalent("2x+x", "3x"));
  EXPECT_TRUE(MathAnswersEquivalent("x^2-1", "(x-1)(x+1)"));
  EXPECT_TRUE(MathAnswersEquivalent("\\sqrt[3]{27}", "3"));
  EXPECT_FALSE(MathAnswersEquivalent("0.333", "\\frac{1}{3}"));
  // sympy keeps a decimal's own precision: 16 significant digits are not 1/12,
  // although their nearest doubles are the same; an exact decimal is.
  EXPECT_FALSE(MathAnswersEquivalent("0.08333333333333333", "\\frac{1}{12}"));
  EXPECT_FALSE(MathAnswersEquivalent("0.3333333333", "\\frac{1}{3}"));
  EXPECT_TRUE(MathAnswersEquivalent("0.0625", "\\frac{1}{16}"));
  EXPECT_TRUE(MathAnswersEquivalent("0.1x", "\\frac{x}{10}"));
  EXPECT_FALSE(MathAnswersEquivalent("0.3333333333333333x", "\\frac{x}{3}"));
  EXPECT_FALSE(MathAnswersEquivalent("x^2", "2x"));
  EXPECT_FALSE(MathAnswersEquivalent("[2,5)", "[2,5)"));  // sympy cannot parse intervals
  EXPECT_FALSE(MathAnswersEquivalent(".5", ".5"));
  EXPECT_TRUE(MathAnswersEquivalent("-4,-2,1", "-4,5"));  // sympy reads the leading expression only
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

// Chen et al.'s unbiased estimator: 1 - C(n-c, k) / C(n, k).
TEST(PassAtKTest, UnbiasedEstimator) {
  EXPECT_NEAR(PassAtK(10, 3, 1), 0.3, 1e-12);
  EXPECT_NEAR(PassAtK(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12);  // C(7,5) / C(10,5)
  EXPECT_EQ(PassAtK(10, 0, 5), 0.0);
  EXPECT_EQ(PassAtK(5, 5, 1), 1.0);
  EXPECT_EQ(PassAtK(10, 8, 5), 1.0);  // fewer than k failures: some draw always passes
  EXPECT_THROW(PassAtK(3, 4, 1), InternalError);
}

}  // namespace
}  // namespace llada
