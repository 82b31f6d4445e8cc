// Metrics and aggregation, against lm-eval's formulas worked by hand.
#include <gtest/gtest.h>

#include <cmath>

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
