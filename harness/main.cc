// llada-eval's entry point. The command line itself (subcommands, default
// command, exit statuses) is harness/cli/command_line.h.
#include <cstdlib>

#include "harness/cli/command_line.h"
#include "models/torch/cpu_threads.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  // libgomp and OpenBLAS read some settings once, as they load, before main
  // (the wait policy; the kernel set): a process that will run a model starts
  // itself again, once, with them set (models/torch/cpu_threads.h says which
  // and why) -- never overriding what the user's environment sets.
  if (llada::RunsModel(args)) llada::RestartWithLoadTimeSettings(argv);
  return llada::RunCommandLine(args);
}
