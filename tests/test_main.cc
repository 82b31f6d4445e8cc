// The test binary's entry point: gtest's, after the restart llada-eval's own
// main makes (harness/main.cc), so that tests computing in this process (and
// the children they fork) use the OpenMP policy and OpenBLAS kernels the
// command line uses, and their numbers agree with its to the last bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "models/torch/cpu_threads.h"

int main(int argc, char** argv) {
  const auto settings = llada::LoadTimeSettings();
  if (!settings.empty()) {
    for (const auto& [name, value] : settings) setenv(name.c_str(), value.c_str(), 1);
    execv("/proc/self/exe", argv);
    for (const auto& [name, value] : settings) unsetenv(name.c_str());  // exec failed: test as started
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
