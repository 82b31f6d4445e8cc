// llada-eval's entry point. The command line itself (subcommands, default
// command, exit statuses) is harness/cli/command_line.h.
#include <unistd.h>

#include <cstdlib>

#include "harness/cli/command_line.h"
#include "models/torch/cpu_threads.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  // libgomp and OpenBLAS read some settings once, as they load, before main
  // (the wait policy; the kernel set): a process that will run a model starts
  // itself again, once, with them set (models/torch/cpu_threads.h says which
  // and why) -- never overriding what the user's environment sets.
  if (llada::RunsModel(args)) {
    const auto settings = llada::LoadTimeSettings();
    if (!settings.empty()) {
      for (const auto& [name, value] : settings) setenv(name.c_str(), value.c_str(), 1);
      execv("/proc/self/exe", argv);
      for (const auto& [name, value] : settings) unsetenv(name.c_str());  // exec failed: run as started
    }
  }
  return llada::RunCommandLine(args);
}
