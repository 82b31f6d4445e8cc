// Runs one llada-eval command line: parse, run the subcommand, map errors to
// exit statuses. main() calls it; tests call it in a child process with hooks.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace llada {

struct CliHooks {
  // Passed to the evaluator (EvalOptions::after_commit) by `run`.
  std::function<void(size_t committed)> after_commit;
  // Passed to the evaluator (EvalOptions::after_store) by `run`.
  std::function<void(const std::string& stored)> after_store;
};

// `args` without the program name. Returns the exit status.
int RunCommandLine(std::vector<std::string> args, const CliHooks& hooks = {});

// Would this command line load a model (run -- also as the default command
// --, study, logits, loglik, generate)? main() uses it to set the CPU
// threads' wait policy before LibTorch loads.
bool RunsModel(const std::vector<std::string>& args);

}  // namespace llada
