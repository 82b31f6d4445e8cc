// llada-eval's entry point. The command line itself (subcommands, default
// command, exit statuses) is harness/cli/command_line.h.
#include <unistd.h>

#include <cstdlib>

#include "harness/cli/command_line.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  // LibTorch's OpenMP workers (libgomp) busy-wait after each parallel region
  // and take the cores from OpenBLAS's own threads: 2 threads ran slower
  // than 1 here (docs/benchmarks.md). libgomp reads OMP_WAIT_POLICY once,
  // as it loads, before main; so a process that will run a model starts
  // itself again, once, with the passive policy -- unless the user chose one.
  if (llada::RunsModel(args) && !std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY");  // exec failed: the policy in force is libgomp's default
  }
  return llada::RunCommandLine(args);
}
