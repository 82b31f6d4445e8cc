// PyRandom against values printed by CPython 3.11's random module.
#include "core/py_random.h"

#include <gtest/gtest.h>

namespace llada {
namespace {

TEST(PyRandomTest, GetRandBitsMatchesCPython) {
  PyRandom rng(1234);  // random.Random(1234).getrandbits(32) x3
  EXPECT_EQ(rng.GetRandBits(32), 4150886329u);
  EXPECT_EQ(rng.GetRandBits(32), 3342196574u);
  EXPECT_EQ(rng.GetRandBits(32), 1892932127u);
}

TEST(PyRandomTest, SeedWiderThan32BitsAndWideGetRandBits) {
  PyRandom rng((uint64_t{1} << 40) + 5);  // random.Random(2**40+5).getrandbits(40)
  EXPECT_EQ(rng.GetRandBits(40), 569101979940u);
}

TEST(PyRandomTest, SampleSetBranchMatchesLmEvalGsm8kDraws) {
  // The draws lm-eval made for gsm8k documents 0 and 1 (golden/lmeval).
  PyRandom rng(1234);
  EXPECT_EQ(rng.SampleIndices(7473, 5), (std::vector<uint64_t>{6374, 3610, 957, 61, 742}));
  EXPECT_EQ(rng.SampleIndices(7473, 5), (std::vector<uint64_t>{7462, 6610, 4769, 286, 5501}));
}

TEST(PyRandomTest, SamplePoolBranchForSmallPopulations) {
  PyRandom rng(1234);  // random.Random(1234).sample(range(10), 6)
  EXPECT_EQ(rng.SampleIndices(10, 6), (std::vector<uint64_t>{7, 1, 0, 9, 4, 6}));
}

TEST(PyRandomTest, ShuffleAndRandom) {
  PyRandom rng(42);  // x = [0,1,2,3]; Random(42).shuffle(x); then .random()
  std::vector<uint64_t> x{0, 1, 2, 3};
  rng.Shuffle(x);
  EXPECT_EQ(x, (std::vector<uint64_t>{2, 1, 3, 0}));
  EXPECT_DOUBLE_EQ(rng.Random(), 0.24489185380347622);
}

TEST(PyRandomTest, SampleLargerThanPopulationIsAnError) {
  PyRandom rng(1);
  EXPECT_THROW(rng.SampleIndices(3, 4), std::exception);
}

}  // namespace
}  // namespace llada
