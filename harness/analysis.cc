#include "harness/analysis.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"

namespace llada {
namespace {

bool Finished(const StoredRun& run) { return run.status == "finished"; }

// The names a run was asked for, with groups that only list their members
// (BBH's, the reversal poem's) replaced by those members.
std::vector<std::string> RequestedTasks(const StoredRun& run, const TaskRegistry& registry) {
  std::vector<std::string> names;
  std::function<void(const std::string&)> add = [&](const std::string& name) {
    const GroupSpec* group = registry.FindGroup(name);
    if (group && group->aggregate.empty()) {
      for (const auto& sub : group->subtasks) add(registry.Canonical(sub));
    } else if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  };
  for (const auto& name : run.record.tasks) {
    try {
      add(registry.Canonical(name.get<std::string>()));
    } catch (const UserError&) {
      add(name.get<std::string>());  // a task this build no longer knows
    }
  }
  return names;
}

std::vector<std::string> LeavesOf(const TaskRegistry& registry, const std::string& name) {
  try {
    return registry.Resolve({name}).leaf_tasks;
  } catch (const UserError&) {
    return {name};
  }
}

std::optional<MetricRecord> FindMetric(const std::vector<MetricRecord>& metrics, const std::string& task,
                                       const std::string& key) {
  for (const auto& m : metrics)
    if (m.task == task && m.metric + "," + m.filter == key) return m;
  return std::nullopt;
}

// Per-document values of `key` for a task (a group's members pooled), keyed by (leaf, doc).
std::map<std::pair<std::string, int64_t>, double> DocumentScores(Store& store, const TaskRegistry& registry,
                                                                 int64_t run_id, const std::string& task,
                                                                 const std::string& key) {
  std::map<std::pair<std::string, int64_t>, double> scores;
  for (const auto& leaf : LeavesOf(registry, task))
    for (const auto& sample : store.LoadSamples(run_id, leaf))
      if (sample.error.empty() && sample.metrics.contains(key))
        scores[{leaf, sample.doc_index}] = sample.metrics.at(key).get<double>();
  return scores;
}

PairedResult PairScores(const std::map<std::pair<std::string, int64_t>, double>& baseline,
                        const std::map<std::pair<std::string, int64_t>, double>& candidate) {
  std::vector<double> a, b;
  for (const auto& [doc, value] : baseline) {
    auto it = candidate.find(doc);
    if (it == candidate.end()) continue;
    a.push_back(value);
    b.push_back(it->second);
  }
  return ComparePaired(a, b);
}

std::string Truncate(const std::string& text, size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit) + "\n… (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace

std::string ShotsLabel(const StoredRun& run) {
  const auto& shots = run.record.config.value("num_fewshot", nlohmann::json());
  return shots.is_number_integer() ? std::to_string(shots.get<int>()) : "default";
}

std::string SettingLabel(const StoredRun& run) {
  std::vector<std::string> parts;
  const auto& chat = run.record.config.value("chat_template", nlohmann::json());
  if (chat.is_string()) parts.push_back("chat:" + chat.get<std::string>());
  if (!run.record.preset.empty()) parts.push_back("preset:" + run.record.preset);
  return Join(parts, " ");
}

std::string ModelKind(const StoredRun& run) {
  const std::string backend =
      run.model_description.is_object() ? run.model_description.value("backend", std::string()) : "";
  if (backend == "llada") return "LLaDA";
  if (backend == "causal") return "ARM";
  if (StartsWith(run.model_identity, "replay:")) return "replay";
  return backend.empty() ? "other" : backend;
}

std::string HeadlineMetric(const TaskRegistry& registry, const std::string& task) {
  if (const GroupSpec* group = registry.FindGroup(task)) {
    if (!group->aggregate.empty()) return group->aggregate[0].metric + "," + group->aggregate[0].filter;
    return group->subtasks.empty() ? "" : HeadlineMetric(registry, registry.Canonical(group->subtasks[0]));
  }
  try {
    const auto reported = registry.CreateTask(task)->reported_metrics();
    if (!reported.empty()) return reported[0].metric + "," + reported[0].filter;
  } catch (const UserError&) {
  }
  return "";
}

nlohmann::json RunsJson(Store& store, const TaskRegistry& registry) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : store.ListRuns()) {
    nlohmann::json headline = nlohmann::json::array();  // in the order the tasks were asked for
    const auto metrics = store.LoadMetrics(run.id);
    const auto speeds = store.LoadSpeed(run.id);
    for (const auto& task : RequestedTasks(run, registry)) {
      const std::string key = HeadlineMetric(registry, task);
      if (auto m = FindMetric(metrics, task, key))
        headline.push_back({{"task", task}, {"metric", key}, {"value", m->value}});
    }
    runs.push_back({{"id", run.id},
                    {"model", run.record.model_spec},
                    {"kind", ModelKind(run)},
                    {"tasks", run.record.tasks},
                    {"shots", ShotsLabel(run)},
                    {"preset", run.record.preset},
                    {"setting", SettingLabel(run)},
                    {"started_at", run.started_at},
                    {"finished_at", run.finished_at},
                    {"status", run.status},
                    {"error", run.error},
                    {"headline", headline}});
  }
  return runs;
}

std::string FormatRunsTable(Store& store, const TaskRegistry& registry) {
  const nlohmann::json runs = RunsJson(store, registry);
  std::vector<std::vector<std::string>> rows = {
      {"id", "model", "tasks", "shots", "preset", "started", "status", "headline metrics"}};
  for (const auto& run : runs) {
    std::vector<std::string> tasks, headline;
    for (const auto& task : run.at("tasks")) tasks.push_back(task.get<std::string>());
    for (const auto& entry : run.at("headline"))
      headline.push_back(entry.at("task").get<std::string>() + " " + FormatFixed(entry.at("value").get<double>(), 4));
    rows.push_back({std::to_string(run.at("id").get<int64_t>()), run.at("model"), Join(tasks, ","), run.at("shots"),
                    run.at("preset").get<std::string>().empty() ? "-" : run.at("preset").get<std::string>(),
                    run.at("started_at"), run.at("status"), Join(headline, "  ")});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  std::ostringstream out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      out << row[i] << (i + 1 < row.size() ? std::string(widths[i] - row[i].size() + 2, ' ') : "\n");
  }
  if (runs.empty()) out << "(no runs in this store)\n";
  return out.str();
}

int64_t ResolveRunSpec(Store& store, const TaskRegistry& registry, const std::string& spec, const RunFilter& filter) {
  const auto runs = store.ListRuns();
  if (IsAsciiDigits(spec)) {
    const int64_t id = std::stoll(spec);
    for (const auto& run : runs)
      if (run.id == id) return id;
    throw UserError("no run " + spec + " in the store");
  }
  if (!StartsWith(spec, "latest:"))
    throw UserError("a run is a run id or latest:<model>, got '" + spec + "' (see `llada-eval runs`)");
  const std::string model = spec.substr(7);
  std::set<std::string> models;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    models.insert(it->record.model_spec);
    if (!Finished(*it) || it->record.model_spec != model) continue;
    if (filter.shots && ShotsLabel(*it) != std::to_string(*filter.shots)) continue;
    const auto requested = RequestedTasks(*it, registry);
    std::set<std::string> covered(requested.begin(), requested.end());
    for (const auto& name : it->record.tasks) {
      try {
        covered.insert(registry.Canonical(name.get<std::string>()));
      } catch (const UserError&) {  // a task this build no longer knows
      }
    }
    const bool has_all = std::all_of(filter.tasks.begin(), filter.tasks.end(), [&](const std::string& task) {
      return covered.count(registry.Canonical(task)) > 0;
    });
    if (has_all) return it->id;
  }
  throw UserError("no finished run of --model '" + model + "'" +
                  (filter.tasks.empty() ? "" : " covering " + Join(filter.tasks, ",")) +
                  (filter.shots ? " at " + std::to_string(*filter.shots) + " shots" : "") +
                  " (models in the store: " + Join(std::vector<std::string>(models.begin(), models.end()), ", ") + ")");
}

bool ComparisonReport::HasRegression() const {
  return std::any_of(tasks.begin(), tasks.end(), [](const TaskComparison& t) { return t.verdict == "regression"; });
}

ComparisonReport CompareRuns(Store& store, const TaskRegistry& registry, int64_t baseline, int64_t candidate,
                             double alpha, double min_delta) {
  ComparisonReport report;
  report.baseline = baseline;
  report.candidate = candidate;
  report.alpha = alpha;
  report.min_delta = min_delta;
  std::optional<StoredRun> base_run, cand_run;
  for (const auto& run : store.ListRuns()) {
    if (run.id == baseline) base_run = run;
    if (run.id == candidate) cand_run = run;
  }
  if (!base_run || !cand_run) throw UserError("compare: run not found");
  for (const auto* run : {&*base_run, &*cand_run})
    if (!Finished(*run)) throw UserError("compare: run " + std::to_string(run->id) + " is " + run->status);
  const auto base_tasks = RequestedTasks(*base_run, registry);
  const auto base_metrics = store.LoadMetrics(baseline);
  std::vector<double> p_values;
  for (const auto& task : RequestedTasks(*cand_run, registry)) {
    if (std::find(base_tasks.begin(), base_tasks.end(), task) == base_tasks.end()) continue;
    TaskComparison comparison;
    comparison.task = task;
    comparison.metric = HeadlineMetric(registry, task);
    if (auto m = FindMetric(base_metrics, task, comparison.metric)) comparison.higher_is_better = m->higher_is_better;
    comparison.stats = PairScores(DocumentScores(store, registry, baseline, task, comparison.metric),
                                  DocumentScores(store, registry, candidate, task, comparison.metric));
    p_values.push_back(comparison.stats.n > 0 ? comparison.stats.p_value : 1.0);
    report.tasks.push_back(comparison);
  }
  if (report.tasks.empty())
    throw UserError("compare: runs " + std::to_string(baseline) + " and " + std::to_string(candidate) +
                    " have no task in common");
  const std::vector<bool> significant = HolmSignificant(p_values, alpha);
  for (size_t i = 0; i < report.tasks.size(); ++i) {
    TaskComparison& t = report.tasks[i];
    t.significant = significant[i];
    const double better = t.higher_is_better ? t.stats.delta : -t.stats.delta;
    if (t.stats.n == 0)
      t.verdict = "no documents in common";
    else if (t.significant && better < 0 && std::fabs(t.stats.delta) >= min_delta)
      t.verdict = "regression";
    else if (t.significant && better > 0 && std::fabs(t.stats.delta) >= min_delta)
      t.verdict = "improvement";
    else
      t.verdict = "no significant change";
  }
  return report;
}

nlohmann::json ComparisonJson(const ComparisonReport& report) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : report.tasks)
    tasks.push_back({{"task", t.task},
                     {"metric", t.metric},
                     {"higher_is_better", t.higher_is_better},
                     {"test", t.stats.test},
                     {"n", t.stats.n},
                     {"baseline", t.stats.baseline},
                     {"candidate", t.stats.candidate},
                     {"delta", t.stats.delta},
                     {"ci95", {t.stats.ci_low, t.stats.ci_high}},
                     {"p_value", t.stats.p_value},
                     {"baseline_only_correct", t.stats.baseline_only},
                     {"candidate_only_correct", t.stats.candidate_only},
                     {"significant", t.significant},
                     {"verdict", t.verdict}});
  return {{"baseline_run", report.baseline},
          {"candidate_run", report.candidate},
          {"alpha", report.alpha},
          {"correction", "holm"},
          {"min_delta", report.min_delta},
          {"regression", report.HasRegression()},
          {"tasks", tasks}};
}

std::string FormatComparison(const ComparisonReport& report) {
  std::ostringstream out;
  out << "baseline run " << report.baseline << " vs candidate run " << report.candidate << " (alpha " << report.alpha
      << ", Holm-corrected over " << report.tasks.size() << " tasks; min delta " << report.min_delta << ")\n";
  char line[512];
  std::snprintf(line, sizeof(line), "%-28s %-26s %6s %9s %9s %8s %19s %9s  %s\n", "task", "metric", "n", "baseline",
                "candidate", "delta", "95% interval", "p", "verdict");
  out << line;
  for (const auto& t : report.tasks) {
    std::snprintf(line, sizeof(line), "%-28s %-26s %6zu %9.4f %9.4f %+8.4f [%+8.4f,%+8.4f] %9.4g  %s (%s)\n",
                  t.task.c_str(), t.metric.c_str(), t.stats.n, t.stats.baseline, t.stats.candidate, t.stats.delta,
                  t.stats.ci_low, t.stats.ci_high, t.stats.p_value, t.verdict.c_str(), t.stats.test.c_str());
    out << line;
  }
  out << (report.HasRegression() ? "REGRESSION: at least one task is significantly worse\n"
                                 : "no significant regression\n");
  return out.str();
}

std::vector<SettingStudyRow> CompareSettings(Store& store, const TaskRegistry& registry,
                                             const std::vector<std::pair<std::string, int64_t>>& setting_runs) {
  std::vector<SettingStudyRow> rows;
  if (setting_runs.size() < 2) return rows;
  const int64_t baseline = setting_runs.front().second;
  const auto baseline_speed = store.LoadSpeed(baseline);
  for (size_t i = 1; i < setting_runs.size(); ++i) {
    const auto& [label, run] = setting_runs[i];
    const auto candidate_speed = store.LoadSpeed(run);
    for (const auto& comparison : CompareRuns(store, registry, baseline, run, 0.05, 0.0).tasks) {
      SettingStudyRow row{label, comparison, nullptr, nullptr};
      if (auto it = baseline_speed.find(comparison.task); it != baseline_speed.end()) row.baseline_speed = it->second;
      if (auto it = candidate_speed.find(comparison.task); it != candidate_speed.end())
        row.candidate_speed = it->second;
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string FormatSettingStudy(const std::string& baseline, const std::vector<SettingStudyRow>& rows) {
  std::ostringstream out;
  out << "settings against the baseline (" << baseline
      << "): accuracy difference with its 95% interval and p-value (paired, Holm-corrected per setting), and the "
         "speed-up in model time (generated tokens/s; requests/s for likelihood tasks)\n";
  char line[640];
  std::snprintf(line, sizeof(line), "%-20s %-32s %-22s %5s %8s %8s %8s %19s %8s %10s %9s %8s %6s\n", "task", "setting",
                "metric", "n", "baseline", "setting", "delta", "95% interval", "p", "base rate", "rate", "speed-up",
                "TPF");
  out << line;
  auto number = [](const nlohmann::json& speed, const char* key) {
    return speed.is_object() && speed.contains(key) && speed.at(key).is_number() ? speed.at(key).get<double>() : NAN;
  };
  for (const auto& row : rows) {
    const auto& a = row.accuracy;
    // Generation: tokens per second; likelihood: requests per second.
    const char* rate = row.baseline_speed.is_object() && row.baseline_speed.contains("tokens_per_second")
                           ? "tokens_per_second"
                           : "requests_per_second";
    const double base = number(row.baseline_speed, rate);
    const double speed = number(row.candidate_speed, rate);
    std::snprintf(line, sizeof(line),
                  "%-20s %-32s %-22s %5zu %8.4f %8.4f %+8.4f [%+8.4f,%+8.4f] %8.3g %10.2f %9.2f %7.2fx %6.2f%s\n",
                  a.task.c_str(), row.setting.c_str(), a.metric.c_str(), a.stats.n, a.stats.baseline, a.stats.candidate,
                  a.stats.delta, a.stats.ci_low, a.stats.ci_high, a.stats.p_value, base, speed, speed / base,
                  number(row.candidate_speed, "tokens_per_forward"), a.significant ? "  significant" : "");
    out << line;
  }
  return out.str();
}

std::vector<StudyRow> ComputeStudy(Store& store, const TaskRegistry& registry, const std::vector<int64_t>& run_ids) {
  // (model, setting, task) -> shots -> newest run
  std::map<std::tuple<std::string, std::string, std::string>, std::map<int, int64_t>> cells;
  std::vector<std::tuple<std::string, std::string, std::string>> order;
  for (const auto& run : store.ListRuns()) {
    if (!Finished(run)) continue;
    if (!run_ids.empty() && std::find(run_ids.begin(), run_ids.end(), run.id) == run_ids.end()) continue;
    const auto metrics = store.LoadMetrics(run.id);
    for (const auto& task : RequestedTasks(run, registry)) {
      auto m = FindMetric(metrics, task, HeadlineMetric(registry, task));
      if (!m) continue;
      const auto key = std::make_tuple(run.record.model_spec, SettingLabel(run), task);
      if (!cells.count(key)) order.push_back(key);
      cells[key][m->num_fewshot] = run.id;  // runs come oldest first: the newest wins
    }
  }
  std::vector<StudyRow> study;
  for (const auto& key : order) {
    const auto& by_shots = cells.at(key);
    auto zero = by_shots.find(0);
    if (zero == by_shots.end()) continue;
    const auto& [model, setting, task] = key;
    const std::string metric = HeadlineMetric(registry, task);
    const auto zero_scores = DocumentScores(store, registry, zero->second, task, metric);
    for (const auto& [shots, run_id] : by_shots) {
      if (shots == 0) continue;
      const PairedResult paired = PairScores(zero_scores, DocumentScores(store, registry, run_id, task, metric));
      study.push_back({model, setting, task, metric, shots, paired.n, paired.baseline, paired.candidate, paired.delta,
                       paired.ci_low, paired.ci_high, paired.p_value});
    }
  }
  return study;
}

std::string FormatStudy(const std::vector<StudyRow>& study) {
  if (study.empty()) return "no model has runs at 0 and at k > 0 shots on the same task\n";
  int model_width = 5, setting_width = 7, task_width = 4;
  for (const auto& row : study) {
    model_width = std::max(model_width, static_cast<int>(row.model.size()));
    setting_width = std::max(setting_width, static_cast<int>(row.setting.size()));
    task_width = std::max(task_width, static_cast<int>(row.task.size()));
  }
  std::ostringstream out;
  char line[1024];
  std::snprintf(line, sizeof(line), "%-*s  %-*s  %-*s %5s %6s %8s %8s %9s %21s %8s\n", model_width, "model",
                setting_width, "setting", task_width, "task", "shots", "n", "0-shot", "k-shot", "delta", "95% interval",
                "p");
  out << line;
  for (const auto& row : study) {
    std::snprintf(line, sizeof(line), "%-*s  %-*s  %-*s %5d %6zu %8.4f %8.4f %+9.4f [%+9.4f,%+9.4f] %8.4g\n",
                  model_width, row.model.c_str(), setting_width, row.setting.empty() ? "-" : row.setting.c_str(),
                  task_width, row.task.c_str(), row.shots, row.n, row.zero_shot, row.few_shot, row.delta, row.ci_low,
                  row.ci_high, row.p_value);
    out << line;
  }
  return out.str();
}

namespace {

// A run's generation settings for one task, as its resolved config records
// them ("gen_length=256 block_length=32 cache=dual threshold=0.9").
std::string DecodingLabel(const nlohmann::json& config, const std::string& task) {
  static const char* const kKeys[] = {"gen_length", "steps",      "block_length", "cache",       "threshold",
                                      "factor",     "early_stop", "remasking",    "temperature", "max_gen_toks"};
  for (const auto& entry : config.value("tasks", nlohmann::json::array())) {
    if (entry.value("task", std::string()) != task || !entry.contains("model_args")) continue;
    std::string label;
    for (const char* key : kKeys) {
      const auto& args = entry.at("model_args");
      if (!args.contains(key) || args.at(key).is_null()) continue;
      const auto& value = args.at(key);
      label += (label.empty() ? "" : " ") + std::string(key) + "=" +
               (value.is_string() ? value.get<std::string>() : value.dump());
    }
    return label.empty() ? "default decoding" : label;
  }
  return "default decoding";
}

}  // namespace

HtmlReportInput GatherReport(Store& store, const TaskRegistry& registry, const std::filesystem::path& reported_file,
                             size_t samples_per_cell) {
  HtmlReportInput input;
  input.generated_at = UtcTimestamp();
  std::map<std::pair<std::string, std::string>, size_t> row_of;  // (model, setting) -> row index
  for (const auto& run : store.ListRuns()) {
    std::string machine;
    if (const auto& m = run.record.config.value("machine", nlohmann::json()); m.is_object())
      machine = m.value("cpu", std::string("?")) + " · " + std::to_string(m.value("cores", 0)) + " cores · " +
                FormatFixed(m.value("memory_gib", 0.0), 0) + " GiB · " + m.value("kernel", std::string());
    input.runs.push_back({run.id, run.record.model_spec, ModelKind(run),
                          Join(run.record.tasks.get<std::vector<std::string>>(), ","), ShotsLabel(run),
                          SettingLabel(run), run.status, run.started_at, run.finished_at, run.record.harness_version,
                          run.record.git_sha, run.record.host, machine, run.record.config_hash, run.record.config});
    if (!Finished(run)) continue;
    const std::string setting = "shots:" + ShotsLabel(run) + (SettingLabel(run).empty() ? "" : " " + SettingLabel(run));
    const auto row_key = std::make_pair(run.record.model_spec, setting);
    if (!row_of.count(row_key)) {
      row_of[row_key] = input.rows.size();
      input.rows.push_back({run.record.model_spec, ModelKind(run), setting, false, {}});
    }
    LeaderboardRow& row = input.rows[row_of.at(row_key)];
    const auto metrics = store.LoadMetrics(run.id);
    const auto speeds = store.LoadSpeed(run.id);
    for (const auto& task : RequestedTasks(run, registry)) {
      const std::string key = HeadlineMetric(registry, task);
      auto m = FindMetric(metrics, task, key);
      if (!m) continue;
      if (std::find(input.tasks.begin(), input.tasks.end(), task) == input.tasks.end()) input.tasks.push_back(task);
      input.task_metrics[task] = key;
      row.cells[task] = {m->value, m->stderr_value, m->n, m->num_fewshot, run.id, key};
      if (auto speed = speeds.find(task); speed != speeds.end() && speed->second.is_object())
        input.speed.push_back({task, run.record.model_spec, DecodingLabel(run.record.config, task), run.id, m->value,
                               m->stderr_value, speed->second.value("tokens_per_second", 0.0),
                               speed->second.value("tokens_per_forward", 0.0)});
    }
  }
  // The samples behind every measured cell (the newest run of each).
  for (const auto& row : input.rows) {
    for (const auto& [task, cell] : row.cells) {
      CellSamples samples{cell.run_id, task, 0, {}};
      for (const auto& leaf : LeavesOf(registry, task)) {
        const auto stored = store.LoadSamples(cell.run_id, leaf);
        samples.total += static_cast<int64_t>(stored.size());
        for (const auto& sample : stored) {
          if (samples.samples.size() >= samples_per_cell) break;
          SampleView view;
          view.doc_index = sample.doc_index;
          // The first request's context is the prompt (choices differ only in their continuation).
          if (!sample.request_keys.empty()) {
            const std::string first = sample.request_keys[0].get<std::string>();
            const auto requests = store.LookupRequests({first});
            if (requests.count(first))
              view.prompt = Truncate(
                  (leaf == task ? "" : "[" + leaf + "]\n") + requests.at(first).value("context", std::string()), 3000);
          }
          view.response = Truncate(sample.responses.size() == 1 && sample.responses[0].is_string()
                                       ? sample.responses[0].get<std::string>()
                                       : sample.responses.dump(1),
                                   3000);
          const std::string filter = cell.metric.substr(cell.metric.find(',') + 1);
          if (sample.filtered.contains(filter))
            view.extracted = Truncate(sample.filtered.at(filter).get<std::string>(), 1500);
          view.target = Truncate(sample.target, 1500);
          if (sample.metrics.contains(cell.metric))
            view.score = FormatFixed(sample.metrics.at(cell.metric).get<double>(), 4);
          view.error = sample.error;
          samples.samples.push_back(std::move(view));
        }
      }
      input.samples.push_back(std::move(samples));
    }
  }
  // Numbers reported in papers, for the tasks measured here.
  if (!reported_file.empty()) {
    const nlohmann::json reported = nlohmann::json::parse(ReadInputFile(reported_file), nullptr, false);
    if (reported.is_discarded() || !reported.contains("models"))
      throw UserError::InFile(reported_file.string(), "models", "not a reported-numbers file (configs/reported/)");
    input.reported_source = reported.value("source", reported_file.filename().string()) + " [" +
                            reported.value("version", std::string("no version")) + "]";
    for (const auto& entry : reported.at("models")) {
      LeaderboardRow row{entry.at("model"),
                         entry.value("kind", "reported") == "llada" ? "LLaDA" : "ARM",
                         "reported · " + entry.value("table", std::string()),
                         true,
                         {}};
      for (const auto& [task, value] : entry.at("results").items()) {
        if (std::find(input.tasks.begin(), input.tasks.end(), task) == input.tasks.end()) continue;
        row.cells[task] = {value.at("value").get<double>(), std::nullopt, 0, value.value("num_fewshot", 0), 0,
                           input.task_metrics[task]};
      }
      if (!row.cells.empty()) input.rows.push_back(std::move(row));
    }
  }
  input.study = ComputeStudy(store, registry);
  return input;
}

}  // namespace llada
