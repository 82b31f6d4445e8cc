// The test binary's entry point: gtest's, after the restart llada-eval's own
// main makes (harness/main.cc), so that tests computing in this process (and
// the children they fork) use the OpenMP policy and OpenBLAS kernels the
// command line uses, and their numbers agree with its to the last bit.
#include <gtest/gtest.h>

#include "models/torch/cpu_threads.h"

int main(int argc, char** argv) {
  llada::RestartWithLoadTimeSettings(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
