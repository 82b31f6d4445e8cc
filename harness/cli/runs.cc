// `llada-eval runs`: the runs in a store, as a table or JSON.
#include <iostream>

#include "core/errors.h"
#include "core/file_io.h"
#include "harness/analysis.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/cli/store_commands.h"

namespace llada {
namespace {

class RunsCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* runs = app.add_subcommand("runs", "List the runs in a store");
    AddDbFlag(runs, &db_);
    runs->add_flag("--json", json_, "One JSON array instead of a table");
    return runs;
  }

  int Run(CommandContext& context) override {
    auto store = OpenExistingStore(db_);
    if (json_)
      std::cout << RunsJson(*store, context.Tasks()).dump(2) << "\n";
    else
      std::cout << FormatRunsTable(*store, context.Tasks());
    return kExitOk;
  }

 private:
  std::string db_ = kDefaultStorePath;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeRunsCommand() { return std::make_unique<RunsCommand>(); }

}  // namespace llada
