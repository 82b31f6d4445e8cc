#include "harness/evaluator.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/hashing.h"
#include "harness/progress.h"
#include "harness/version.h"
#include "store/store.h"

namespace llada {
namespace {

nlohmann::json ResponseJson(RequestType type, const Response& response) {
  if (type == RequestType::kLoglikelihood)
    return {{"loglikelihood", response.loglikelihood}, {"is_greedy", response.is_greedy}};
  return {{"text", response.text}};
}

Response ResponseFromJson(const nlohmann::json& json) {
  Response response;
  if (json.contains("text")) {
    response.text = json.at("text").get<std::string>();
  } else {
    response.loglikelihood = json.at("loglikelihood").get<double>();
    response.is_greedy = json.at("is_greedy").get<bool>();
  }
  return response;
}

std::string HostName() {
  char buffer[256] = {0};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "unknown";
  return buffer;
}

std::string TimestampForFileName() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm tm{};
  gmtime_r(&now.tv_sec, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H-%M-%S", &tm);
  char micros[32];
  std::snprintf(micros, sizeof(micros), ".%06ld", now.tv_nsec / 1000);
  return std::string(buffer) + micros;
}

// Test seam: LLADA_EVAL_FAULT_KILL_AFTER=N sends SIGKILL to this process once N
// responses have been committed, so tests can prove that a killed run resumes.
int64_t KillAfterResponses() {
  const char* value = std::getenv("LLADA_EVAL_FAULT_KILL_AFTER");
  return value && *value ? std::atoll(value) : -1;
}

// The preset's shot count for a task: the task's own entry, else that of a
// group containing it.
std::optional<int> PresetShots(const nlohmann::json& preset, const std::string& task, const TaskRegistry& registry) {
  if (!preset.contains("tasks")) return std::nullopt;
  const auto& entries = preset.at("tasks");
  auto shots_of = [&](const std::string& name) -> std::optional<int> {
    if (entries.contains(name) && entries.at(name).contains("num_fewshot"))
      return entries.at(name).at("num_fewshot").get<int>();
    return std::nullopt;
  };
  if (auto shots = shots_of(task)) return shots;
  std::function<bool(const std::string&)> contains = [&](const std::string& group) {
    const GroupSpec* spec = registry.FindGroup(group);
    if (!spec) return false;
    for (const auto& sub : spec->subtasks)
      if (sub == task || contains(sub)) return true;
    return false;
  };
  for (const auto& group : registry.GroupNames())
    if (contains(group))
      if (auto shots = shots_of(group)) return shots;
  return std::nullopt;
}

void AddToDisplay(const std::string& name, int depth, const TaskRegistry& registry, std::vector<std::string>* order,
                  std::map<std::string, int>* depths) {
  if (depths->count(name)) return;
  (*depths)[name] = depth;
  order->push_back(name);
  if (const GroupSpec* group = registry.FindGroup(name))
    for (const auto& sub : group->subtasks) AddToDisplay(registry.Canonical(sub), depth + 1, registry, order, depths);
}

}  // namespace

DocRange ParseDocRange(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) throw UserError("--doc-range: expected A:B, got '" + text + "'");
  auto parse = [&](const std::string& part, int64_t fallback) -> int64_t {
    if (part.empty()) return fallback;
    for (char c : part)
      if (c < '0' || c > '9') throw UserError("--doc-range: '" + text + "' is not A:B with whole numbers");
    return std::stoll(part);
  };
  DocRange range{parse(text.substr(0, colon), 0), parse(text.substr(colon + 1), INT64_MAX)};
  if (range.end < range.begin) throw UserError("--doc-range: end before begin in '" + text + "'");
  return range;
}

size_t Plan::TotalRequests() const {
  size_t total = 0;
  for (const auto& task : tasks)
    for (const auto& requests : task.requests) total += requests.size();
  return total;
}

Plan BuildPlan(const TaskRegistry& registry, const EvalOptions& options) {
  Plan plan;
  plan.selection = registry.Resolve(options.tasks);
  if (options.num_fewshot && *options.num_fewshot < 0) throw UserError("--shots: must be 0 or more");
  if (options.limit && *options.limit < 0) throw UserError("--limit: must be 0 or more");
  for (const auto& name : plan.selection.leaf_tasks) {
    PlannedTask planned;
    planned.task = registry.CreateTask(name);
    planned.task->Load(options.data_dir);
    if (options.num_fewshot)
      planned.num_fewshot = *options.num_fewshot;
    else if (auto shots = PresetShots(options.preset_config, name, registry))
      planned.num_fewshot = *shots;
    else
      planned.num_fewshot = planned.task->default_num_fewshot();
    const int64_t count = static_cast<int64_t>(planned.task->NumDocs());
    int64_t begin = options.doc_range ? std::min(options.doc_range->begin, count) : 0;
    int64_t end = options.doc_range ? std::min(options.doc_range->end, count) : count;
    if (options.limit) end = std::min(end, begin + *options.limit);
    for (int64_t i = begin; i < end; ++i) {
      planned.doc_indices.push_back(static_cast<size_t>(i));
      planned.requests.push_back(planned.task->BuildRequests(static_cast<size_t>(i), planned.num_fewshot));
    }
    plan.tasks.push_back(std::move(planned));
  }
  return plan;
}

nlohmann::ordered_json RequestJson(const Request& request) {
  nlohmann::ordered_json line = {{"task", request.origin.task},
                         {"doc_index", request.origin.doc_index},
                         {"request_index", request.origin.request_index},
                         {"request_type", RequestTypeName(request.type)},
                         {"context", request.context}};
  if (request.type == RequestType::kLoglikelihood) {
    line["continuation"] = request.continuation;
  } else {
    line["until"] = request.until;
    line["max_gen_toks"] =
        request.max_gen_toks ? nlohmann::ordered_json(*request.max_gen_toks) : nlohmann::ordered_json(nullptr);
  }
  return line;
}

std::string RequestCacheKey(const std::string& model_identity, const Request& request, bool keyed_by_origin) {
  nlohmann::ordered_json args = RequestJson(request);
  if (!keyed_by_origin) {
    args.erase("task");
    args.erase("doc_index");
    args.erase("request_index");
  }
  return Sha256Hex(model_identity + "\n" + args.dump());
}

Evaluator::Evaluator(const TaskRegistry& tasks, const ModelRegistry& models, std::ostream& log, bool interactive)
    : tasks_(tasks), models_(models), log_(log), interactive_(interactive) {}

RunOutcome Evaluator::Run(const EvalOptions& options) {
  RunOutcome outcome;
  // 1. Everything that can be wrong with the input is checked before the store
  //    is touched: output directory, tasks, data files, the model.
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec || !std::filesystem::is_directory(options.output_dir, ec))
    throw UserError::InFile(options.output_dir.string(), "--output",
                            "cannot create the output directory" + (ec ? ": " + ec.message() : std::string()));
  if (access(options.output_dir.c_str(), W_OK) != 0)
    throw UserError::InFile(options.output_dir.string(), "--output", "output directory is not writable");
  outcome.db_path = options.db_path.empty() ? options.output_dir / "llada-eval.db" : options.db_path;

  Plan plan = BuildPlan(tasks_, options);
  std::unique_ptr<Model> model = models_.Create(options.model);
  const ModelCapabilities capabilities = model->Capabilities();
  for (const auto& planned : plan.tasks) {
    const bool supported = planned.task->request_type() == RequestType::kLoglikelihood ? capabilities.loglikelihood
                                                                                         : capabilities.generate_until;
    if (!supported)
      throw UserError("--model " + options.model.spec + " cannot serve " +
                      RequestTypeName(planned.task->request_type()) + " requests (task " + planned.task->name() + ")");
  }

  // 2. The resolved configuration and its hash identify the run.
  const std::string identity = model->Identity();
  nlohmann::json task_hashes = nlohmann::json::object(), data_hashes = nlohmann::json::object();
  nlohmann::json task_configs = nlohmann::json::array();
  for (const auto& planned : plan.tasks) {
    const nlohmann::json described = planned.task->Describe();
    task_hashes[planned.task->name()] = Sha256Hex(described.dump());
    task_configs.push_back({{"task", planned.task->name()},
                            {"version", planned.task->version()},
                            {"num_fewshot", planned.num_fewshot},
                            {"config_sha256", task_hashes[planned.task->name()]},
                            {"fewshot", planned.task->FewshotInfo()},
                            {"documents", planned.doc_indices.size()}});
    for (const auto& file : planned.task->DataFiles(options.data_dir))
      if (file.found) data_hashes[file.path.filename().string() + "@" + planned.task->name()] = Sha256File(file.path);
  }
  nlohmann::json config = {
      {"model", options.model.spec},
      {"model_identity", identity},
      {"model_args", options.model.model_args},
      {"device", options.model.device},
      {"dtype", options.model.dtype},
      {"seed", options.model.seed},
      {"batch_size", options.model.batch_size},
      {"tasks", task_configs},
      {"requested_tasks", options.tasks},
      {"num_fewshot", options.num_fewshot ? nlohmann::json(*options.num_fewshot) : nlohmann::json(nullptr)},
      {"limit", options.limit ? nlohmann::json(*options.limit) : nlohmann::json(nullptr)},
      {"doc_range", options.doc_range ? nlohmann::json({options.doc_range->begin, options.doc_range->end})
                                      : nlohmann::json(nullptr)},
      {"fewshot_seed", options.fewshot_seed},
      {"preset", options.preset},
      {"data_sha256", data_hashes},
  };
  const std::string config_hash = Sha256Hex(config.dump());

  // 3. Open the store; resume an unfinished run with the same configuration.
  std::unique_ptr<Store> store = Store::Open(outcome.db_path);
  const int64_t model_id = store->UpsertModel(identity, options.model.spec, model->Describe());
  int64_t run_id;
  if (auto resumable = store->FindResumableRun(config_hash)) {
    run_id = *resumable;
    store->MarkRunResumed(run_id);
    outcome.resumed = true;
    log_ << "llada-eval: resuming run " << run_id << " (same configuration, unfinished)\n";
  } else {
    RunRecord record;
    record.model_id = model_id;
    record.model_spec = options.model.spec;
    record.tasks = options.tasks;
    record.config = config;
    record.config_hash = config_hash;
    record.task_hashes = task_hashes;
    record.data_hashes = data_hashes;
    record.preset = options.preset;
    record.harness_version = kHarnessVersion;
    record.git_sha = kGitSha;
    record.host = HostName();
    run_id = store->CreateRun(record);
  }

  try {
    // 4. Requests through the cache: only what is missing reaches the model,
    //    and every batch is committed as soon as it is answered.
    std::vector<std::vector<std::vector<std::string>>> keys(plan.tasks.size());
    std::map<std::string, const Request*> unique;
    std::vector<std::string> unique_order;
    for (size_t t = 0; t < plan.tasks.size(); ++t) {
      for (const auto& requests : plan.tasks[t].requests) {
        std::vector<std::string> doc_keys;
        for (const auto& request : requests) {
          doc_keys.push_back(RequestCacheKey(identity, request, capabilities.keyed_by_origin));
          if (unique.emplace(doc_keys.back(), &request).second) unique_order.push_back(doc_keys.back());
        }
        keys[t].push_back(std::move(doc_keys));
      }
    }
    std::map<std::string, nlohmann::json> responses = store->LookupResponses(unique_order);
    outcome.cached_responses = responses.size();
    std::map<RequestType, std::vector<std::string>> pending;
    for (const auto& key : unique_order)
      if (!responses.count(key)) pending[unique.at(key)->type].push_back(key);
    size_t pending_total = 0;
    for (const auto& entry : pending) pending_total += entry.second.size();
    if (outcome.cached_responses > 0)
      log_ << "llada-eval: " << outcome.cached_responses << " of " << unique_order.size()
           << " responses found in the request cache\n";

    std::map<std::string, std::string> failed;  // key -> error
    const int64_t kill_after = KillAfterResponses();
    const size_t batch_size = static_cast<size_t>(std::max(1, options.model.batch_size));
    Progress progress("requests", static_cast<int64_t>(pending_total), log_, interactive_);
    for (const auto& [type, type_keys] : pending) {
      for (size_t start = 0; start < type_keys.size(); start += batch_size) {
        const size_t end = std::min(type_keys.size(), start + batch_size);
        std::vector<std::string> batch_keys(type_keys.begin() + start, type_keys.begin() + end);
        auto call = [&, type = type](const std::vector<std::string>& call_keys) {
          std::vector<Request> batch;
          for (const auto& key : call_keys) batch.push_back(*unique.at(key));
          return type == RequestType::kLoglikelihood ? model->Loglikelihood(batch) : model->GenerateUntil(batch);
        };
        std::vector<CacheEntry> entries;
        auto record = [&](const std::string& key, const Response& response) {
          const Request& request = *unique.at(key);
          CacheEntry entry{key, RequestTypeName(type), nlohmann::json(RequestJson(request)),
                           ResponseJson(type, response)};
          responses[key] = entry.response;
          entries.push_back(std::move(entry));
        };
        try {
          std::vector<Response> answered = call(batch_keys);
          if (answered.size() != batch_keys.size()) throw InternalError("model returned the wrong number of responses");
          for (size_t i = 0; i < batch_keys.size(); ++i) record(batch_keys[i], answered[i]);
        } catch (const SampleError&) {
          // One bad request must not sink its batch: retry them one by one.
          for (const auto& key : batch_keys) {
            try {
              record(key, call({key}).at(0));
            } catch (const SampleError& e) {
              failed[key] = e.what();
            }
          }
        }
        store->PutResponses(entries, model_id);
        outcome.computed_responses += entries.size();
        progress.Advance(static_cast<int64_t>(batch_keys.size()));
        if (kill_after >= 0 && static_cast<int64_t>(outcome.computed_responses) >= kill_after) ::raise(SIGKILL);
      }
    }
    if (pending_total > 0) progress.Finish();

    // 5. Score every document, store samples and per-task metrics.
    std::map<std::string, MetricRecord> records;  // "task|filter|metric"
    std::vector<MetricRecord> all_metrics;
    std::map<std::string, TaskReport> reports;
    for (size_t t = 0; t < plan.tasks.size(); ++t) {
      PlannedTask& planned = plan.tasks[t];
      Task& task = *planned.task;
      std::map<std::pair<std::string, std::string>, std::vector<double>> values;
      std::vector<SampleRecord> samples;
      for (size_t d = 0; d < planned.doc_indices.size(); ++d) {
        SampleRecord sample;
        sample.task = task.name();
        sample.doc_index = static_cast<int64_t>(planned.doc_indices[d]);
        sample.request_keys = keys[t][d];
        sample.responses = nlohmann::json::array();
        sample.filtered = nlohmann::json::object();
        sample.metrics = nlohmann::json::object();
        std::vector<Response> doc_responses;
        for (const auto& key : keys[t][d]) {
          if (failed.count(key)) {
            sample.error = failed.at(key);
            break;
          }
          const nlohmann::json& stored = responses.at(key);
          sample.responses.push_back(stored.contains("text") ? stored.at("text") : stored);
          doc_responses.push_back(ResponseFromJson(stored));
        }
        if (sample.error.empty()) {
          try {
            DocumentScore score = task.Score(planned.doc_indices[d], doc_responses);
            sample.target = score.target;
            for (const auto& result : score.outcomes) {
              sample.filtered[result.filter] = result.answer;
              for (const auto& [metric, value] : result.metrics) {
                sample.metrics[metric + "," + result.filter] = value;
                values[{result.filter, metric}].push_back(value);
              }
            }
          } catch (const SampleError& e) {
            sample.error = e.what();
          }
        }
        if (!sample.error.empty()) ++outcome.failed_documents;
        samples.push_back(std::move(sample));
      }
      store->PutSamples(run_id, samples);

      TaskReport report;
      report.name = task.name();
      report.version = task.version();
      report.num_fewshot = planned.num_fewshot;
      report.n_original = static_cast<int64_t>(task.NumDocs());
      report.n_effective = static_cast<int64_t>(planned.doc_indices.size());
      report.config = task.Describe();
      for (const auto& reported : task.reported_metrics()) {
        MetricRecord record;
        record.task = task.name();
        record.version = task.version();
        record.filter = reported.filter;
        record.metric = reported.metric;
        record.num_fewshot = planned.num_fewshot;
        record.higher_is_better = reported.higher_is_better;
        const Aggregate aggregate = MeanAggregate(values[{reported.filter, reported.metric}]);
        record.value = aggregate.value;
        record.stderr_value = aggregate.stderr_value;
        record.n = static_cast<int64_t>(aggregate.count);
        records[record.task + "|" + record.filter + "|" + record.metric] = record;
        report.metrics.push_back(record);
        all_metrics.push_back(record);
      }
      reports[task.name()] = std::move(report);
    }

    // 6. Groups, innermost first, from their subtasks' aggregates.
    for (const auto& group_name : plan.selection.groups) {
      const GroupSpec& group = *tasks_.FindGroup(group_name);
      TaskReport report;
      report.name = group.name;
      report.is_group = true;
      report.version = group.version;
      for (const auto& sub : group.subtasks) report.subtasks.push_back(tasks_.Canonical(sub));
      for (const auto& aggregate_spec : group.aggregate) {
        std::vector<SubtaskAggregate> parts;
        int shots = 0;
        for (const auto& sub : report.subtasks) {
          auto it = records.find(sub + "|" + aggregate_spec.filter + "|" + aggregate_spec.metric);
          if (it == records.end()) continue;
          parts.push_back({it->second.value, it->second.stderr_value, static_cast<size_t>(it->second.n)});
          shots = it->second.num_fewshot;
        }
        if (parts.empty()) continue;
        const Aggregate aggregate = AggregateSubtasks(parts, aggregate_spec.weight_by_size);
        MetricRecord record;
        record.task = group.name;
        record.is_group = true;
        record.version = group.version;
        record.filter = aggregate_spec.filter;
        record.metric = aggregate_spec.metric;
        record.num_fewshot = shots;
        report.num_fewshot = shots;
        record.value = aggregate.value;
        record.stderr_value = aggregate.stderr_value;
        record.n = static_cast<int64_t>(aggregate.count);
        records[record.task + "|" + record.filter + "|" + record.metric] = record;
        report.metrics.push_back(record);
        all_metrics.push_back(record);
      }
      reports[group.name] = std::move(report);
    }
    store->PutMetrics(run_id, all_metrics);
    store->FinishRun(run_id, "finished");

    // 7. Outputs, in the order the user asked for them.
    std::vector<std::string> order;
    std::map<std::string, int> depths;
    for (const auto& name : options.tasks) {
      if (name.empty()) continue;
      AddToDisplay(tasks_.Canonical(name), 0, tasks_, &order, &depths);
    }
    outcome.report.run_id = run_id;
    outcome.report.run_config = config;
    outcome.report.config_hash = config_hash;
    outcome.report.git_sha = kGitSha;
    outcome.report.harness_version = kHarnessVersion;
    for (const auto& name : order) {
      auto it = reports.find(name);
      if (it == reports.end()) continue;
      it->second.depth = depths.at(name);
      outcome.report.tasks.push_back(it->second);
    }
    outcome.results_path = options.output_dir / ("results_" + TimestampForFileName() + ".json");
    WriteFileAtomically(outcome.results_path, BuildResultsJson(outcome.report).dump(2) + "\n");
    if (options.log_samples) {
      for (const auto& planned : plan.tasks) {
        std::string lines;
        for (const auto& sample : store->LoadSamples(run_id, planned.task->name()))
          lines += SampleJson(sample).dump() + "\n";
        const auto path = options.output_dir / ("samples_" + planned.task->name() + ".jsonl");
        WriteFileAtomically(path, lines);
        outcome.sample_paths.push_back(path);
      }
    }
  } catch (const Error& e) {
    store->FinishRun(run_id, "failed", e.what());
    throw;
  }
  return outcome;
}

}  // namespace llada
