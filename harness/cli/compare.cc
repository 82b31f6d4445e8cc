// `llada-eval compare`: two runs paired per task; exit 1 on a significant regression.
#include <iostream>

#include "core/errors.h"
#include "core/file_io.h"
#include "harness/analysis.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/cli/store_commands.h"

namespace llada {
namespace {

class CompareCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* compare =
        app.add_subcommand("compare", "Paired comparison of two runs per task; exit 1 on a significant regression");
    AddDbFlag(compare, &db_);
    compare->add_option("--baseline", baseline_, "Run id or latest:<model>")->required();
    compare->add_option("--candidate", candidate_, "Run id or latest:<model>")->required();
    compare->add_option("--alpha", alpha_, "Family-wise significance level (Holm over tasks)")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& value) -> std::string {
              char* end = nullptr;
              const double alpha = std::strtod(value.c_str(), &end);
              return end && *end == '\0' && alpha > 0 && alpha < 1 ? ""
                                                                   : "must be between 0 and 1, got '" + value + "'";
            },
            "(0,1)"));
    compare->add_option("--min-delta", min_delta_, "Smallest change (in metric units) that counts as a regression")
        ->capture_default_str()
        ->check(FiniteNumber(true));
    compare->add_option("--json", json_, "Also write the comparison as JSON to this file");
    compare->add_option("--tasks", tasks_, "latest:<model> must cover these tasks");
    compare->add_option("--shots", shots_, "latest:<model> must have run with this --shots")
        ->check(NonNegativeInteger());
    return compare;
  }

  int Run(CommandContext& context) override {
    auto store = OpenExistingStore(db_);
    const TaskRegistry& registry = context.Tasks();
    RunFilter filter{SplitList(tasks_), std::nullopt};
    if (shots_ >= 0) filter.shots = shots_;
    const int64_t baseline = ResolveRunSpec(*store, registry, baseline_, filter);
    const int64_t candidate = ResolveRunSpec(*store, registry, candidate_, filter);
    const ComparisonReport comparison = CompareRuns(*store, registry, baseline, candidate, alpha_, min_delta_);
    std::cout << FormatComparison(comparison);
    if (!json_.empty()) WriteFileAtomically(json_, ComparisonJson(comparison).dump(2) + "\n");
    return comparison.HasRegression() ? kExitRegression : kExitOk;
  }

 private:
  std::string db_ = kDefaultStorePath, baseline_, candidate_, json_, tasks_;
  double alpha_ = 0.05, min_delta_ = 0.0;
  int shots_ = -1;
};

}  // namespace

std::unique_ptr<Command> MakeCompareCommand() { return std::make_unique<CompareCommand>(); }

}  // namespace llada
