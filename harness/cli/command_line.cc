#include "harness/cli/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "core/errors.h"
#include "harness/cli/command.h"
#include "harness/version.h"

namespace llada {
namespace {

// `llada-eval --tasks ...` means `llada-eval run --tasks ...`.
bool ImpliesRun(const std::vector<std::string>& args) {
  return !args.empty() && args[0].size() > 1 && args[0][0] == '-' && args[0] != "--help" && args[0] != "-h" &&
         args[0] != "--version";
}

int ParseAndRun(std::vector<std::string> args, const CliHooks& hooks) {
  CLI::App app{"llada-eval: evaluation harness for diffusion (LLaDA) and autoregressive language models"};
  app.set_version_flag("--version", std::string(kHarnessVersion) + " (" + kGitSha + ")");
  app.require_subcommand(1);
  std::vector<std::unique_ptr<Command>> commands = BuiltinCommands();
  std::vector<std::pair<CLI::App*, Command*>> parsed_by;
  for (auto& command : commands) parsed_by.emplace_back(command->Add(app), command.get());

  if (ImpliesRun(args)) args.insert(args.begin(), "run");
  const std::vector<std::string> given = args;
  std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "llada-eval: error: " << e.what() << " (see --help)\n";
    return kExitUserError;
  }
  CommandContext context;
  context.hooks = hooks;
  context.args = given;
  for (const auto& [subcommand, command] : parsed_by)
    if (subcommand->parsed()) return command->Run(context);
  throw InternalError("no subcommand ran");
}

}  // namespace

bool RunsModel(const std::vector<std::string>& args) {
  if (ImpliesRun(args)) return true;
  if (args.empty()) return false;
  for (const char* command : {"run", "study", "logits", "loglik", "generate"})
    if (args[0] == command) return true;
  return false;
}

int RunCommandLine(std::vector<std::string> args, const CliHooks& hooks) {
  try {
    return ParseAndRun(std::move(args), hooks);
  } catch (const UserError& e) {
    std::cerr << "llada-eval: error: " << e.what() << "\n";
    return kExitUserError;
  } catch (const InternalError& e) {
    std::cerr << "llada-eval: " << e.what() << " (this is a bug; please report it)\n";
    return kExitBug;
  } catch (const std::exception& e) {
    std::cerr << "llada-eval: internal error: " << e.what() << " (this is a bug; please report it)\n";
    return kExitBug;
  }
}

}  // namespace llada
