// `llada-eval report`: the self-contained HTML report of a store.
#include <iostream>

#include "core/errors.h"
#include "core/file_io.h"
#include "harness/analysis.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/cli/store_commands.h"

namespace llada {
namespace {

class ReportCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* report = app.add_subcommand("report", "Write the self-contained HTML report of a store");
    AddDbFlag(report, &db_);
    report->add_option("--out", out_, "HTML file to write")->capture_default_str();
    report->add_option("--reported", reported_, "Numbers reported in papers (configs/reported/*.json; '' for none)")
        ->capture_default_str();
    report->add_option("--samples-per-cell", samples_per_cell_, "Samples shown per run and task")
        ->capture_default_str()
        ->check(PositiveInteger());
    return report;
  }

  int Run(CommandContext& context) override {
    WriteReport(context.Tasks(), db_, out_, reported_, samples_per_cell_);
    return kExitOk;
  }

 private:
  std::string db_ = kDefaultStorePath, out_ = "llada-eval-report.html", reported_ = DefaultReportedFile();
  size_t samples_per_cell_ = 20;
};

}  // namespace

std::unique_ptr<Command> MakeReportCommand() { return std::make_unique<ReportCommand>(); }

}  // namespace llada
