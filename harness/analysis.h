// Reading runs back out of the store: `llada-eval runs`, `compare`, `study`
// and `report`. What a run measured is looked up by task through the task
// registry (headline metric, group membership); the statistics and the HTML
// live in reports/.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "reports/html_report.h"
#include "reports/paired_stats.h"
#include "store/store.h"
#include "tasks/registry.h"

namespace llada {

// The few-shot setting a run was asked for: "5", or "default" (each task's own / the preset's).
std::string ShotsLabel(const StoredRun& run);
// Chat template and preset of a run, e.g. "chat:llada preset:llada-paper" ("" when neither).
std::string SettingLabel(const StoredRun& run);
// "LLaDA", "ARM", "replay" from the backend's description.
std::string ModelKind(const StoredRun& run);

// `runs`: one line per run (id, model, tasks, shots, preset, start, status, headline metrics).
std::string FormatRunsTable(Store& store, const TaskRegistry& registry);
nlohmann::json RunsJson(Store& store, const TaskRegistry& registry);

struct RunFilter {
  std::vector<std::string> tasks;  // the run must cover all of them
  std::optional<int> shots;        // the run's --shots
};

// A run id, or "latest:<model>": the newest finished run of that --model value
// that matches `filter`. Throws UserError when nothing matches.
int64_t ResolveRunSpec(Store& store, const TaskRegistry& registry, const std::string& spec, const RunFilter& filter);

// "metric,filter" a task or group is judged by: its first reported metric.
std::string HeadlineMetric(const TaskRegistry& registry, const std::string& task);

struct TaskComparison {
  std::string task, metric;
  bool higher_is_better = true;
  PairedResult stats;
  bool significant = false;  // after Holm's correction across the compared tasks
  std::string verdict;       // "regression", "improvement", "no significant change"
};

struct ComparisonReport {
  int64_t baseline = 0, candidate = 0;
  double alpha = 0.05, min_delta = 0.0;
  std::vector<TaskComparison> tasks;
  bool HasRegression() const;
};

// Per task both runs asked for (a group's members pooled), the headline
// metric compared on the documents both runs scored.
ComparisonReport CompareRuns(Store& store, const TaskRegistry& registry, int64_t baseline, int64_t candidate,
                             double alpha, double min_delta);
std::string FormatComparison(const ComparisonReport& report);
nlohmann::json ComparisonJson(const ComparisonReport& report);

// Few-shot minus zero-shot for every model, setting and task with finished
// runs at 0 shots and at k > 0 shots (the newest run of each), optionally only
// among `run_ids`.
std::vector<StudyRow> ComputeStudy(Store& store, const TaskRegistry& registry,
                                   const std::vector<int64_t>& run_ids = {});
std::string FormatStudy(const std::vector<StudyRow>& study);

// One task of one setting of a --model-args-grid study against the grid's
// baseline run: the paired accuracy comparison beside the measured speed.
struct SettingStudyRow {
  std::string setting;
  TaskComparison accuracy;
  nlohmann::json baseline_speed, candidate_speed;  // results' "speed" entries (null: not generated)
};
// For every setting after the first, every task both runs scored.
std::vector<SettingStudyRow> CompareSettings(Store& store, const TaskRegistry& registry,
                                             const std::vector<std::pair<std::string, int64_t>>& setting_runs);
std::string FormatSettingStudy(const std::string& baseline, const std::vector<SettingStudyRow>& rows);

// Everything the HTML report shows; `reported_file` is a configs/reported/*.json
// (empty: none); at most `samples_per_cell` samples per run and task.
HtmlReportInput GatherReport(Store& store, const TaskRegistry& registry, const std::filesystem::path& reported_file,
                             size_t samples_per_cell);

}  // namespace llada
