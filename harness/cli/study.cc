// `llada-eval study`: models x shots (x chat templates x presets) over one
// store, then few-shot minus zero-shot per model and task.
#include <unistd.h>

#include <iostream>

#include "core/errors.h"
#include "core/text.h"
#include "harness/analysis.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/cli/store_commands.h"
#include "harness/evaluator.h"
#include "models/model.h"

namespace llada {
namespace {

class StudyCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* study = app.add_subcommand(
        "study",
        "Run models x shots (x chat templates x presets), reusing cached requests; print few-shot minus zero-shot");
    AddCommonFlags(study, &common_, &shots_);
    AddRunFlags(study, &flags_, /*with_model=*/false);
    study->add_option("--models", models_, "Comma list of --model values")->required();
    study->add_option("--report", report_, "Also write the HTML report of the store here");
    study->add_option("--model-args-grid", grid_,
                      "Backend settings to compare, e.g. \"cache=none,dual threshold=none,0.9\": every combination "
                      "runs; each is compared with the first (accuracy difference with interval and p-value, "
                      "speed-up)");
    // --chat-template and --preset take comma lists here ("none" = plain prompts, "auto" = the checkpoint's template).
    return study;
  }

  int Run(CommandContext& context) override {
    std::vector<int> shots;
    for (const auto& item : SplitList(shots_)) {
      if (!IsAsciiDigits(item))
        throw UserError("--shots: expected a comma list of whole numbers, got '" + shots_ + "'");
      shots.push_back(std::stoi(item));
    }
    const std::vector<std::string> models = SplitList(models_);
    // Chat-template axis: names, "none" for plain prompts, "auto" for the checkpoint's own.
    std::vector<std::string> chat_templates = SplitList(common_.chat_template);
    if (chat_templates.empty()) chat_templates.push_back(common_.apply_chat_template ? "auto" : "none");
    for (auto& chat : chat_templates)
      if (chat == "none") chat.clear();
    std::vector<std::string> presets = SplitList(common_.preset);
    if (presets.empty()) presets.push_back("");
    for (auto& preset : presets)
      if (preset == "none") preset.clear();
    std::vector<GridCell> grid = {{"", nlohmann::json::object()}};
    if (!grid_.empty()) grid = ParseModelArgsGrid(grid_);
    // (model, preset, chat, shots) -> (grid cell label, run), in grid order.
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, int64_t>>>> grid_runs;
    ModelRegistry model_registry;
    RegisterBuiltinModels(model_registry);
    Evaluator evaluator(context.Tasks(), model_registry, std::cerr, isatty(STDERR_FILENO) != 0);
    std::vector<int64_t> run_ids;
    size_t computed = 0, cached = 0, unscored = 0;
    std::string db_path;
    for (const auto& model : models)
      for (const auto& preset : presets)
        for (const auto& chat : chat_templates)
          for (int shot : shots) {
            const std::string where = model + ", " + std::to_string(shot) + " shots" +
                                      (chat.empty() ? "" : ", chat template " + chat) +
                                      (preset.empty() ? "" : ", preset " + preset);
            grid_runs.push_back({where, {}});
            for (const auto& grid_cell : grid) {
              CommonFlags cell = common_;
              cell.preset = preset;
              cell.chat_template = chat == "auto" ? "" : chat;
              cell.apply_chat_template = !chat.empty();
              cell.shots = shot;
              RunFlags cell_flags = flags_;
              cell_flags.extra.model.spec = model;
              EvalOptions options = ToRunOptions(cell, cell_flags);
              for (auto it = grid_cell.model_args.begin(); it != grid_cell.model_args.end(); ++it)
                options.cli_model_args[it.key()] = it.value();
              std::cerr << "llada-eval: study: " << where << (grid_cell.label.empty() ? "" : ", " + grid_cell.label)
                        << "\n";
              const RunOutcome outcome = evaluator.Run(options);
              run_ids.push_back(outcome.report.run_id);
              grid_runs.back().second.push_back({grid_cell.label, outcome.report.run_id});
              computed += outcome.computed_responses;
              cached += outcome.cached_responses;
              unscored += outcome.unscored_documents;
              db_path = outcome.db_path.string();
            }
          }
    auto store = Store::Open(db_path);
    if (grid.size() > 1) {
      for (const auto& [where, runs] : grid_runs) {
        std::cout << where << "\n"
                  << FormatSettingStudy(runs.front().first + ", run " + std::to_string(runs.front().second),
                                        CompareSettings(*store, context.Tasks(), runs))
                  << "\n";
      }
    }
    if (shots.size() > 1 || grid.size() == 1) std::cout << FormatStudy(ComputeStudy(*store, context.Tasks(), run_ids));
    std::cerr << "llada-eval: study: " << run_ids.size() << " runs, " << computed << " responses computed, " << cached
              << " from cache\n  store:   " << db_path << "\n";
    if (!report_.empty()) WriteReport(context.Tasks(), db_path, report_, DefaultReportedFile(), 20);
    if (unscored) {
      std::cerr << "llada-eval: study: " << unscored << " documents could not be scored (sandbox failures); "
                << "run the same command again to score them\n";
      return kExitUnscored;
    }
    return kExitOk;
  }

 private:
  CommonFlags common_;
  RunFlags flags_;
  std::string shots_, models_, report_, grid_;
};

}  // namespace

std::unique_ptr<Command> MakeStudyCommand() { return std::make_unique<StudyCommand>(); }

}  // namespace llada
