// Run outputs: the results table printed on stdout, lm-eval-shaped results
// JSON, and per-sample JSONL lines. Plain functions over store records.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/store.h"

namespace llada {

struct TaskReport {
  std::string name;
  bool is_group = false;
  int version = 0;
  int num_fewshot = 0;
  int depth = 0;                       // nesting under a requested group, for the table
  std::vector<std::string> subtasks;   // groups only
  std::vector<MetricRecord> metrics;
  int64_t n_original = 0;              // documents in the split
  int64_t n_effective = 0;             // documents evaluated (after --limit / --doc-range)
  nlohmann::json config;               // leaf tasks: resolved config
  nlohmann::json speed;                // generation tasks: NFE, tokens, tokens/s (null otherwise)
};

struct RunReport {
  int64_t run_id = 0;
  nlohmann::json run_config;           // resolved configuration
  std::string config_hash;
  std::string git_sha;
  std::string harness_version;
  std::vector<TaskReport> tasks;       // display order: groups before their subtasks
};

// lm-eval's markdown-style table: Tasks, Version, Filter, n-shot, Metric,
// Value, Stderr (with the arrow for higher/lower is better).
std::string FormatResultsTable(const RunReport& report);

// lm-eval's results_<timestamp>.json shape ("results", "groups",
// "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
// "n-samples", "config") plus an "llada_eval" block with store provenance.
nlohmann::json BuildResultsJson(const RunReport& report);

// One line of samples_<task>.jsonl.
nlohmann::ordered_json SampleJson(const SampleRecord& sample);

}  // namespace llada
