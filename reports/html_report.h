// The HTML report: one self-contained file (inline CSS, SVG and a little
// script; no external requests) with a models x tasks leaderboard (measured
// runs and numbers reported in papers side by side), per-task bar charts with
// error bars, the zero/few-shot view, run metadata and, for every measured
// cell, its samples. Built from plain data; harness/report_data.cc gathers it
// from the store.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace llada {

struct LeaderboardCell {
  double value = 0.0;
  std::optional<double> stderr_value;
  int64_t n = 0;
  int num_fewshot = 0;
  int64_t run_id = 0;  // 0 for reported numbers
  std::string metric;  // "acc,none", ...
};

struct LeaderboardRow {
  std::string model;    // --model as given, or the paper's model name
  std::string kind;     // "LLaDA", "ARM", "replay", ...
  std::string setting;  // shots / chat template / preset, or the paper table
  bool reported = false;
  std::map<std::string, LeaderboardCell> cells;  // task -> cell
};

struct SampleView {
  int64_t doc_index = 0;
  std::string prompt, response, extracted, target, score, error;
};

struct CellSamples {
  int64_t run_id = 0;
  std::string task;
  int64_t total = 0;  // documents in the run; `samples` may hold fewer
  std::vector<SampleView> samples;
};

// Few-shot minus zero-shot for one model, setting and task (paired on the
// documents both runs scored).
struct StudyRow {
  std::string model, setting, task, metric;
  int shots = 0;
  size_t n = 0;
  double zero_shot = 0.0, few_shot = 0.0, delta = 0.0, ci_low = 0.0, ci_high = 0.0, p_value = 1.0;
};

// One run's accuracy on a generation task against its measured speed (the
// accuracy-vs-speed chart: one point per decoding setting).
struct SpeedPoint {
  std::string task, model, setting;  // setting: the run's decoding settings for the task
  int64_t run_id = 0;
  double value = 0.0;                // headline metric
  std::optional<double> stderr_value;
  double tokens_per_second = 0.0;
  double tokens_per_forward = 0.0;
};

struct RunMeta {
  int64_t id = 0;
  std::string model, kind, tasks, shots, setting, status, started_at, finished_at, harness_version, git_sha, host,
      machine, config_hash;
  nlohmann::json config;
};

struct HtmlReportInput {
  std::string title = "llada-eval report";
  std::string generated_at;
  std::vector<std::string> tasks;                   // leaderboard columns, in order
  std::map<std::string, std::string> task_metrics;  // task -> headline "metric,filter"
  std::vector<LeaderboardRow> rows;
  std::vector<CellSamples> samples;
  std::vector<StudyRow> study;
  std::vector<SpeedPoint> speed;
  std::vector<RunMeta> runs;
  std::string reported_source;  // where the reported rows come from
};

std::string RenderHtmlReport(const HtmlReportInput& input);

// &, <, >, " and ' as entities.
std::string HtmlEscape(const std::string& text);

}  // namespace llada
