// llada-eval's entry point. The command line itself (subcommands, default
// command, exit statuses) is harness/cli/command_line.h.
#include "harness/cli/command_line.h"

int main(int argc, char** argv) { return llada::RunCommandLine(std::vector<std::string>(argv + 1, argv + argc)); }
