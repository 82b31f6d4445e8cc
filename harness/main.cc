// llada-eval's entry point. The command line itself (subcommands, default
// command, exit statuses) is harness/cli/command_line.h.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "harness/cli/command_line.h"
#include "models/torch/cpu_threads.h"

namespace {

// libgomp and OpenBLAS read some settings once, as their initializers run,
// before main (models/torch/cpu_threads.h says which and why). The loader
// runs this first, so a process that will run a model starts with them --
// never overriding what the user's environment sets.
void BeforeLibrariesStart(int argc, char** argv, char** envp) {
  if (llada::RunsModel({argv + 1, argv + argc})) llada::SetLoadTimeSettings(argv, envp, llada::CoreSharing::kAlone);
}

// glibc's loader calls the executable's .preinit_array with (argc, argv,
// envp) after relocating every library and before any library initializer.
__attribute__((section(".preinit_array"), used)) void (*before_libraries_start)(int, char**,
                                                                                char**) = BeforeLibrariesStart;

}  // namespace

int main(int argc, char** argv) {
  const int status = llada::RunCommandLine({argv + 1, argv + argc});
  // Everything of ours is closed by now (the store committed, every file
  // written). What exit() would still run are the libraries' static
  // destructors -- LibTorch unregistering its operators one by one, ~0.1 s
  // -- which write nothing anywhere.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(status);
}
