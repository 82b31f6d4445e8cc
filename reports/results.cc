#include "reports/results.h"

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <map>
#include <sstream>

namespace llada {
namespace {

std::string FormatNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4f", value);
  return buffer;
}

std::string DisplayName(const TaskReport& task) {
  std::string name;
  for (int i = 0; i < task.depth; ++i) name += " ";
  if (task.depth > 0) name += "- ";
  return name + task.name;
}

}  // namespace

std::string FormatResultsTable(const RunReport& report) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"Tasks", "Version", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"});
  for (const auto& task : report.tasks) {
    bool first = true;
    for (const auto& metric : task.metrics) {
      rows.push_back({first ? DisplayName(task) : "", first ? std::to_string(task.version) : "",
                      metric.filter, first ? std::to_string(task.num_fewshot) : "", metric.metric,
                      metric.higher_is_better ? "↑" : "↓", metric.n > 0 ? FormatNumber(metric.value) : "N/A", "±",
                      metric.stderr_value ? FormatNumber(*metric.stderr_value) : "N/A"});
      first = false;
    }
  }
  // Column widths in code points so the arrows line up.
  auto width = [](const std::string& s) {
    size_t count = 0;
    for (unsigned char c : s)
      if ((c & 0xc0) != 0x80) ++count;
    return count;
  };
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width(row[c]));
  std::ostringstream out;
  for (size_t r = 0; r < rows.size(); ++r) {
    out << "|";
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const std::string& cell = rows[r][c];
      const bool right = c == 6 || c == 8;
      const std::string pad(widths[c] - width(cell), ' ');
      out << (right ? pad + cell : cell + pad) << "|";
    }
    out << "\n";
    if (r == 0) {
      out << "|";
      for (size_t c = 0; c < widths.size(); ++c)
        out << std::string(widths[c] - 1, '-') << (c == 6 || c == 8 ? ":" : "-") << "|";
      out << "\n";
    }
  }
  return out.str();
}

nlohmann::json BuildResultsJson(const RunReport& report) {
  nlohmann::json results = nlohmann::json::object(), groups = nlohmann::json::object(),
                 group_subtasks = nlohmann::json::object(), configs = nlohmann::json::object(),
                 versions = nlohmann::json::object(), n_shot = nlohmann::json::object(),
                 higher_is_better = nlohmann::json::object(), n_samples = nlohmann::json::object(), speed = nlohmann::json::object();
  for (const auto& task : report.tasks) {
    nlohmann::json entry = {{"alias", DisplayName(task)}};
    for (const auto& metric : task.metrics) {
      const std::string suffix = "," + metric.filter;
      entry[metric.metric + suffix] = metric.n > 0 ? nlohmann::json(metric.value) : nlohmann::json(nullptr);
      entry[metric.metric + "_stderr" + suffix] =
          metric.stderr_value ? nlohmann::json(*metric.stderr_value) : nlohmann::json("N/A");
      higher_is_better[task.name][metric.metric] = metric.higher_is_better;
    }
    results[task.name] = entry;
    versions[task.name] = task.version;
    n_shot[task.name] = task.num_fewshot;
    if (task.is_group) {
      groups[task.name] = entry;
      group_subtasks[task.name] = task.subtasks;
    } else {
      configs[task.name] = task.config;
      n_samples[task.name] = {{"original", task.n_original}, {"effective", task.n_effective}};
      if (!task.speed.is_null()) speed[task.name] = task.speed;
    }
  }
  // lm-eval lists leaf tasks requested outside any group with no subtasks.
  for (const auto& task : report.tasks)
    if (!task.is_group && task.depth == 0) group_subtasks[task.name] = nlohmann::json::array();
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {{"results", results},
          {"groups", groups},
          {"group_subtasks", group_subtasks},
          {"configs", configs},
          {"versions", versions},
          {"n-shot", n_shot},
          {"higher_is_better", higher_is_better},
          {"n-samples", n_samples},
          // Beside accuracy: each generation task's decoding cost and speed,
          // on the device and dtype of config.numerics.
          {"speed", speed},
          {"config", report.run_config},
          {"git_hash", report.git_sha},
          {"date", std::chrono::duration<double>(now).count()},
          {"llada_eval",
           {{"version", report.harness_version}, {"run_id", report.run_id}, {"config_hash", report.config_hash}}}};
}

nlohmann::ordered_json SampleJson(const SampleRecord& sample) {
  nlohmann::ordered_json line = {{"task", sample.task},         {"doc_index", sample.doc_index},
                                 {"target", sample.target},     {"responses", sample.responses},
                                 {"filtered", sample.filtered}, {"metrics", sample.metrics},
                                 {"request_keys", sample.request_keys}};
  if (!sample.error.empty()) line["error"] = sample.error;
  if (sample.details.is_object() && !sample.details.empty()) line["details"] = sample.details;
  return line;
}

}  // namespace llada
