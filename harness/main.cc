// llada-eval's entry point. The command line itself (subcommands, default
// command, exit statuses) is harness/cli/command_line.h.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "harness/cli/command_line.h"
#include "models/torch_backend.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  // A command that runs a model starts loading LibTorch now, on another
  // thread, while it reads its tasks, documents and checkpoint
  // (models/torch_backend.h); the others never load it.
  if (llada::RunsModel(args)) {
    llada::SetCpuSettingsBeforeTorchLoads();
    llada::StartLoadingTorchBackend();
  }
  const int status = llada::RunCommandLine(args);
  // Everything of ours is closed by now (the store committed, every file
  // written). What exit() would still run are the libraries' static
  // destructors -- LibTorch unregistering its operators one by one, ~0.1 s
  // -- which write nothing anywhere. (A load still under way, for a command
  // that stopped early, ends with the process.)
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(status);
}
