#include "harness/evaluator.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/hashing.h"
#include "core/process.h"
#include "core/text.h"
#include "harness/progress.h"
#include "harness/version.h"
#include "scorers/code_execution.h"
#include "store/store.h"

namespace llada {
namespace {

nlohmann::json ResponseJson(RequestType type, const Response& response) {
  if (type == RequestType::kLoglikelihood) {
    nlohmann::json json = {{"loglikelihood", response.loglikelihood}, {"is_greedy", response.is_greedy}};
    if (response.loglikelihood_stderr) json["stderr"] = *response.loglikelihood_stderr;
    if (response.likelihood_cost)
      json["cost"] = {{"rows", response.likelihood_cost->rows},
                      {"rows_computed", response.likelihood_cost->rows_computed},
                      {"seconds", response.likelihood_cost->seconds}};
    return json;
  }
  nlohmann::json json = {{"text", response.text}};
  if (response.cost)
    json["cost"] = {{"forward_calls", response.cost->forward_calls},
                    {"generated_tokens", response.cost->generated_tokens},
                    {"seconds", response.cost->seconds}};
  return json;
}

// What scoring reads of a stored response (its "cost" is read from the JSON
// where speed is summed: TaskSpeed, ScoreDocument).
Response ResponseFromJson(const nlohmann::json& json) {
  Response response;
  if (json.contains("text")) {
    response.text = json.at("text").get<std::string>();
  } else {
    response.loglikelihood = json.at("loglikelihood").get<double>();
    response.is_greedy = json.at("is_greedy").get<bool>();
    if (json.contains("stderr")) response.loglikelihood_stderr = json.at("stderr").get<double>();
  }
  return response;
}

// CPU model, cores, memory and kernel, for the run's metadata.
nlohmann::json DescribeMachine() {
  std::string cpu = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      cpu = PyStrip(line.substr(line.find(':') + 1));
      break;
    }
  int64_t memory_kib = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemTotal:", 0) == 0) memory_kib = std::atoll(line.c_str() + 9);
  struct utsname uts {};
  uname(&uts);
  return {{"host", HostName()},
          {"cpu", cpu},
          {"cores", sysconf(_SC_NPROCESSORS_ONLN)},
          {"memory_gib", static_cast<double>(memory_kib) / (1024.0 * 1024.0)},
          {"kernel", std::string(uts.sysname) + " " + uts.release},
          {"arch", uts.machine}};
}

// A setting (`key`) of the preset for a task: the task's own entry, else that
// of a group containing it.
const nlohmann::json* PresetSetting(const nlohmann::json& preset, const std::string& task, const char* key,
                                    const TaskRegistry& registry) {
  if (!preset.contains("tasks")) return nullptr;
  const auto& entries = preset.at("tasks");
  auto setting_of = [&](const std::string& name) -> const nlohmann::json* {
    if (entries.contains(name) && entries.at(name).contains(key)) return &entries.at(name).at(key);
    return nullptr;
  };
  if (auto* value = setting_of(task)) return value;
  std::function<bool(const std::string&)> contains = [&](const std::string& group) {
    const GroupSpec* spec = registry.FindGroup(group);
    if (!spec) return false;
    for (const auto& sub : spec->subtasks)
      if (sub == task || contains(sub)) return true;
    return false;
  };
  for (const auto& group : registry.GroupNames())
    if (contains(group))
      if (auto* value = setting_of(group)) return value;
  return nullptr;
}

std::optional<int> PresetShots(const nlohmann::json& preset, const std::string& task, const TaskRegistry& registry) {
  const nlohmann::json* shots = PresetSetting(preset, task, "num_fewshot", registry);
  if (!shots) return std::nullopt;
  if (!shots->is_number_integer()) throw UserError("--preset: tasks." + task + ".num_fewshot must be an integer");
  return shots->get<int>();
}

// Backend settings: the preset's, its entry for `task` (none when empty: the
// run's own settings), then the command line's, each overriding the one before.
nlohmann::json MergedModelArgs(const EvalOptions& options, const std::string& task, const TaskRegistry& registry) {
  nlohmann::json args = options.preset_config.value("model_args", nlohmann::json::object());
  if (!args.is_object()) throw UserError("--preset: model_args must be an object");
  const nlohmann::json* own =
      task.empty() ? nullptr : PresetSetting(options.preset_config, task, "model_args", registry);
  if (own) {
    if (!own->is_object()) throw UserError("--preset: tasks." + task + ".model_args must be an object");
    for (auto it = own->begin(); it != own->end(); ++it) args[it.key()] = it.value();
  }
  for (auto it = options.cli_model_args.begin(); it != options.cli_model_args.end(); ++it) args[it.key()] = it.value();
  return args;
}

void AddToDisplay(const std::string& name, int depth, const TaskRegistry& registry, std::vector<std::string>* order,
                  std::map<std::string, int>* depths) {
  if (depths->count(name)) return;
  (*depths)[name] = depth;
  order->push_back(name);
  if (const GroupSpec* group = registry.FindGroup(name))
    for (const auto& sub : group->subtasks) AddToDisplay(registry.Canonical(sub), depth + 1, registry, order, depths);
}

// While a run is open its owner says so every Store::kHeartbeatSeconds, on a
// connection of its own (a Store is one thread's), so that a process on
// another host can tell a live run from a dead one.
class RunHeartbeat {
 public:
  RunHeartbeat(const std::filesystem::path& db_path, int64_t run_id)
      : thread_([this, db_path, run_id] { Beat(db_path, run_id); }) {}
  ~RunHeartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    thread_.join();
  }

 private:
  void Beat(const std::filesystem::path& db_path, int64_t run_id) {
    std::unique_ptr<Store> store;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopped_.wait_for(lock, std::chrono::seconds(Store::kHeartbeatSeconds), [this] { return stop_; })) {
      try {
        if (!store) store = Store::Open(db_path);
        store->Heartbeat(run_id);
      } catch (const std::exception&) {
        // A busy or vanished store: the next beat tries again (on a fresh
        // connection); the run itself reports real errors.
        store.reset();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::thread thread_;
};

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

namespace {

// The chat template a run uses: named, or declared by the checkpoint.
std::unique_ptr<ChatTemplate> ResolveChatTemplate(const EvalOptions& options) {
  if (options.fewshot_as_multiturn && !options.apply_chat_template)
    throw UserError("--fewshot-as-multiturn needs --apply-chat-template");
  if (!options.apply_chat_template) return nullptr;
  if (!options.chat_template_name.empty()) return ChatTemplateByName(options.chat_template_name);
  const std::filesystem::path config = std::filesystem::path(options.model.spec) / "tokenizer_config.json";
  std::error_code ec;
  if (options.model.spec.empty() || !std::filesystem::is_regular_file(config, ec))
    throw UserError("--apply-chat-template: the model declares no chat template here; name one with --chat-template (" +
                    Join(KnownChatTemplates(), ", ") + ")");
  const nlohmann::json tokenizer_config = nlohmann::json::parse(ReadInputFile(config), nullptr, false);
  const std::string source = tokenizer_config.is_object() ? tokenizer_config.value("chat_template", std::string()) : "";
  const auto name = DetectChatTemplate(source);
  if (!name)
    throw UserError::InFile(config.string(), "chat_template",
                            "not a template llada-eval recognises; name one with --chat-template (" +
                                Join(KnownChatTemplates(), ", ") + ")");
  std::string bos;
  if (tokenizer_config.contains("bos_token")) {
    const auto& value = tokenizer_config.at("bos_token");
    if (value.is_string()) bos = value.get<std::string>();
    if (value.is_object()) bos = value.value("content", std::string());
  }
  return ChatTemplateByName(*name, bos);
}

}  // namespace

namespace {

// Every missing data file of the run in one error, with the command that
// downloads them, before any task loads.
void CheckDataPresent(const std::vector<std::unique_ptr<Task>>& tasks, const EvalOptions& options) {
  std::vector<std::string> missing;
  for (const auto& task : tasks)
    for (const auto& file : task->DataFiles(options.data_dir))
      if (!file.found)
        missing.push_back(file.path.string() + ": data file for task " + task->name() + " (split '" + file.split +
                          "')");
  if (missing.empty()) return;
  throw UserError(missing.front() + " not found" +
                  (missing.size() > 1 ? " (and " + std::to_string(missing.size() - 1) + " more data files)" : "") +
                  "; download them with `llada-eval data fetch --tasks " + Join(options.tasks, ",") + " --data-dir " +
                  options.data_dir.string() + "` (`llada-eval data status` shows what is there)");
}

}  // namespace

Plan BuildPlan(const TaskRegistry& registry, const EvalOptions& options) {
  Plan plan;
  plan.selection = registry.Resolve(options.tasks);
  plan.chat_template = ResolveChatTemplate(options);
  if (options.num_fewshot && *options.num_fewshot < 0) throw UserError("--shots: must be 0 or more");
  if (options.limit && *options.limit < 0) throw UserError("--limit: must be 0 or more");
  std::vector<std::unique_ptr<Task>> tasks;
  for (const auto& name : plan.selection.leaf_tasks) tasks.push_back(registry.CreateTask(name));
  CheckDataPresent(tasks, options);
  for (auto& task : tasks) {
    const std::string name = task->name();
    PlannedTask planned;
    planned.task = std::move(task);
    planned.task->Load(options.data_dir);
    planned.task->SetFewshotSeed(options.fewshot_seed);
    if (options.num_fewshot)
      planned.num_fewshot = *options.num_fewshot;
    else if (auto shots = PresetShots(options.preset_config, name, registry))
      planned.num_fewshot = *shots;
    else
      planned.num_fewshot = planned.task->default_num_fewshot();
    planned.model_args = MergedModelArgs(options, name, registry);
    const int64_t count = static_cast<int64_t>(planned.task->NumDocs());
    int64_t begin = options.doc_range ? std::min(options.doc_range->begin, count) : 0;
    int64_t end = options.doc_range ? std::min(options.doc_range->end, count) : count;
    if (options.limit) end = std::min(end, begin + *options.limit);
    PromptOptions prompt;
    prompt.num_fewshot = planned.num_fewshot;
    prompt.chat_template = plan.chat_template.get();
    prompt.system_instruction = options.system_instruction;
    prompt.fewshot_as_multiturn = options.fewshot_as_multiturn;
    for (int64_t i = begin; i < end; ++i) {
      planned.doc_indices.push_back(static_cast<size_t>(i));
      planned.requests.push_back(planned.task->BuildRequests(static_cast<size_t>(i), prompt));
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
    // Only when non-zero: the first sample keeps the key of a single-sample run.
    if (request.sample_index > 0) line["sample_index"] = request.sample_index;
  }
  return line;
}

std::string RequestCacheKey(const std::string& model_identity, const Request& request, bool keyed_by_origin,
                            bool by_document) {
  nlohmann::ordered_json args = RequestJson(request);
  const bool document_keyed = by_document && request.type == RequestType::kLoglikelihood;
  if (document_keyed && request.ranking)
    args["ranking"] = {{"by_loglikelihood", request.ranking->by_loglikelihood},
                       {"by_normalized", request.ranking->by_normalized},
                       {"normalizer", request.ranking->normalizer}};
  if (!keyed_by_origin && !document_keyed) {
    args.erase("task");
    args.erase("doc_index");
    args.erase("request_index");
  }
  return Sha256Hex(model_identity + "\n" + args.dump());
}

ShardSpec ParseShard(const std::string& text) {
  const auto slash = text.find('/');
  const std::string index = text.substr(0, slash), count = slash == std::string::npos ? "" : text.substr(slash + 1);
  if (slash == std::string::npos || !IsAsciiDigits(index) || !IsAsciiDigits(count) || index.empty() || count.empty() ||
      index.size() > 6 || count.size() > 6)
    throw UserError("--shard: '" + text + "' (expected I/N, e.g. 0/4: shard I of N, counted from 0)");
  ShardSpec shard{std::stoi(index), std::stoi(count)};
  if (shard.count < 1 || shard.index >= shard.count)
    throw UserError("--shard: '" + text + "': the shard index must be below the count (0/" + count + " to " +
                    std::to_string(std::max(0, shard.count - 1)) + "/" + count + ")");
  return shard;
}

int ShardOfKey(const std::string& key, int count) {
  if (key.size() < 15) throw InternalError("cache key '" + key + "' is not a sha256");
  return static_cast<int>(std::stoull(key.substr(0, 15), nullptr, 16) % static_cast<uint64_t>(count));
}

std::string ShardStoreName(const ShardSpec& shard) {
  return "llada-eval.shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) + ".db";
}

namespace {

std::string FirstDifference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path) {
  if (a.is_number() && b.is_number()) return a == b ? "" : path;  // 1 read back is unsigned, 1 built is signed
  if (a.type() != b.type()) return path;
  if (a.is_object()) {
    std::set<std::string> names;
    for (auto it = a.begin(); it != a.end(); ++it) names.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) names.insert(it.key());
    for (const auto& name : names) {
      const std::string at = path.empty() ? name : path + "/" + name;
      if (!a.contains(name) || !b.contains(name)) return at;
      if (auto found = FirstDifference(a.at(name), b.at(name), at); !found.empty()) return found;
    }
    return "";
  }
  if (a.is_array()) {
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      if (auto found = FirstDifference(a[i], b[i], path + "/" + std::to_string(i)); !found.empty()) return found;
    return a.size() == b.size() ? "" : path;
  }
  return a == b ? "" : path;
}

// The fields a run records beside its hashed configuration.
nlohmann::json HashedPart(nlohmann::json config) {
  for (const char* recorded :
       {"machine", "numerics", "cpu_threads", "command_line", "working_directory", "partial", "shard"})
    config.erase(recorded);
  // Which GPU of a kind ran a shard does not change its numbers (--devices).
  if (config.contains("device") && config["device"].is_string() &&
      config["device"].get<std::string>().rfind("cuda:", 0) == 0)
    config["device"] = "cuda";
  return config;
}

void CheckSameConfiguration(const nlohmann::json& expected, const nlohmann::json& config) {
  const std::string field = ConfigurationDifference(expected, config);
  if (field.empty()) return;
  auto value_at = [&](const nlohmann::json& in) {
    try {
      return HashedPart(in).at(nlohmann::json::json_pointer("/" + field)).dump();
    } catch (const nlohmann::json::exception&) {
      return std::string("absent");
    }
  };
  throw UserError("the shards were run with another configuration than this one: field '" + field + "' is " +
                  value_at(expected) + " there, " + value_at(config) + " here");
}

}  // namespace

std::string ConfigurationDifference(const nlohmann::json& a, const nlohmann::json& b) {
  return FirstDifference(HashedPart(a), HashedPart(b), "");
}

Evaluator::Evaluator(const TaskRegistry& tasks, const ModelRegistry& models, std::ostream& log, bool interactive)
    : tasks_(tasks), models_(models), log_(log), interactive_(interactive) {}

namespace {

void PrepareOutputDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir, ec))
    throw UserError::InFile(dir.string(), "--output",
                            "cannot create the output directory" + (ec ? ": " + ec.message() : std::string()));
  if (access(dir.c_str(), W_OK) != 0)
    throw UserError::InFile(dir.string(), "--output", "output directory is not writable");
}

void CheckCapabilities(const Plan& plan, const ModelCapabilities& capabilities, const std::string& spec) {
  for (const auto& planned : plan.tasks) {
    const RequestType type = planned.task->request_type();
    const bool supported =
        type == RequestType::kLoglikelihood ? capabilities.loglikelihood : capabilities.generate_until;
    if (!supported)
      throw UserError("--model " + spec + " cannot serve " + RequestTypeName(type) + " requests (task " +
                      planned.task->name() + ")");
  }
}

// The resolved configuration of a run: everything that decides its numbers.
// Its hash identifies the run for resuming.
nlohmann::json ResolvedConfig(const EvalOptions& options, const Plan& plan, const std::string& identity,
                              nlohmann::json* task_hashes, nlohmann::json* data_hashes) {
  *task_hashes = nlohmann::json::object();
  *data_hashes = nlohmann::json::object();
  nlohmann::json task_configs = nlohmann::json::array();
  for (const auto& planned : plan.tasks) {
    const std::string& name = planned.task->name();
    (*task_hashes)[name] = Sha256Hex(planned.task->Describe().dump());
    task_configs.push_back({{"task", name},
                            {"version", planned.task->version()},
                            {"num_fewshot", planned.num_fewshot},
                            {"model_args", planned.model_args},
                            {"config_sha256", (*task_hashes)[name]},
                            {"fewshot", planned.task->FewshotInfo()},
                            {"documents", planned.doc_indices.size()}});
    for (const auto& file : planned.task->DataFiles(options.data_dir))
      if (file.found)
        (*data_hashes)[file.path.filename().string() + "@" + name] = Sha256File(SplitArchiveMember(file.path).archive);
  }
  auto optional = [](const auto& value) { return value ? nlohmann::json(*value) : nlohmann::json(nullptr); };
  nlohmann::json code_execution = nullptr;
  for (const auto& planned : plan.tasks)
    if (planned.task->RunsCode()) code_execution = options.code_execution.Describe();
  return {
      {"code_execution", code_execution},
      {"model", options.model.spec},
      {"model_identity", identity},
      {"model_args", options.model.model_args},
      {"device", options.model.device},
      {"dtype", options.model.dtype},
      {"seed", options.model.seed},
      {"batch_size", options.model.batch_size},
      {"tasks", task_configs},
      {"requested_tasks", options.tasks},
      {"num_fewshot", optional(options.num_fewshot)},
      {"limit", optional(options.limit)},
      {"doc_range", options.doc_range ? nlohmann::json({options.doc_range->begin, options.doc_range->end})
                                      : nlohmann::json(nullptr)},
      {"fewshot_seed", options.fewshot_seed},
      {"chat_template", plan.chat_template ? nlohmann::json(plan.chat_template->name()) : nlohmann::json(nullptr)},
      // Where the template has no system role, descriptions and the system
      // instruction were left out of every prompt (lm-eval's fallback).
      {"chat_system_turns_dropped", plan.chat_template && !plan.chat_template->has_system_role()},
      {"system_instruction", optional(options.system_instruction)},
      {"fewshot_as_multiturn", options.fewshot_as_multiturn},
      {"preset", options.preset},
      {"data_sha256", *data_hashes},
  };
}

// Every response a plan needs, from the cache or the model.
struct ResponseTable {
  std::vector<std::vector<std::vector<std::string>>> keys;  // [task][document][request]
  std::map<std::string, nlohmann::json> responses;          // key -> stored response
  std::map<std::string, std::string> failed;                // key -> error
  size_t cached = 0;
  size_t computed = 0;
  size_t in_shard = 0;  // a shard run: its share of the requests
  size_t missing = 0;   // cache-only: requests the store could not answer
};

size_t RequestLength(const Request& request) { return request.context.size() + request.continuation.size(); }

// Documents together, in request order; the documents longest first (by
// their longest request), as the batches of other runs.
void SortByDocument(std::vector<std::string>& keys, const std::map<std::string, const Request*>& unique) {
  std::map<std::pair<std::string, int64_t>, size_t> longest;
  for (const auto& key : keys) {
    const Request& r = *unique.at(key);
    size_t& length = longest[{r.origin.task, r.origin.doc_index}];
    length = std::max(length, RequestLength(r));
  }
  std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    const Request &x = *unique.at(a), &y = *unique.at(b);
    const std::pair<std::string, int64_t> dx{x.origin.task, x.origin.doc_index}, dy{y.origin.task, y.origin.doc_index};
    if (dx == dy) return x.origin.request_index < y.origin.request_index;
    if (longest.at(dx) != longest.at(dy)) return longest.at(dx) > longest.at(dy);
    return dx < dy;
  });
}

// A request's shard: its document's -- the first document in the plan that
// asks for it, so a key shared by two documents is computed in one shard. A
// document stays whole because its requests are computed together: choices
// that share rows go in one call, and under likelihoods_by_document the
// estimates of a document's choices depend on one another. Split across
// shards, they would differ from the one-process run in float rounding (or
// in an adaptive stop); whole, a shard computes exactly what that run does.
int ShardOfRequest(const Request& first_asker, int count) {
  return ShardOfKey(Sha256Hex(first_asker.origin.task + "\n" + std::to_string(first_asker.origin.doc_index)), count);
}

class ResponseFetcher {
 public:
  ResponseFetcher(Model& model, Store& store, int64_t model_id, const EvalOptions& options, std::ostream& log,
                  bool interactive)
      : after_commit_(options.after_commit),
        shard_(options.shard),
        cache_only_(options.cache_only),
        model_(model),
        store_(store),
        model_id_(model_id),
        batch_size_(static_cast<size_t>(std::max(1, options.model.batch_size))),
        log_(log),
        interactive_(interactive) {}

  ResponseTable Fetch(const Plan& plan) {
    ResponseTable table;
    const bool by_origin = model_.Capabilities().keyed_by_origin;
    // Work in task order, with the backend configured for each task: its
    // settings are part of the model identity and so of every cache key.
    struct Work {
      const nlohmann::json* settings;
      RequestType type;
      std::vector<std::string> keys;
      bool by_document = false;  // a document's requests go in one call
    };
    std::vector<Work> work;
    std::map<std::string, const Request*> unique;
    std::vector<std::string> order;
    for (const auto& planned : plan.tasks) {
      ConfigureFor(planned.model_args);
      const bool by_document = model_.Capabilities().likelihoods_by_document;
      const std::map<RequestType, std::string> identity = {
          {RequestType::kLoglikelihood, model_.CacheIdentity(RequestType::kLoglikelihood)},
          {RequestType::kGenerateUntil, model_.CacheIdentity(RequestType::kGenerateUntil)}};
      std::map<RequestType, std::vector<std::string>> fresh;
      std::vector<std::vector<std::string>> task_keys;
      for (const auto& requests : planned.requests) {
        std::vector<std::string> doc_keys;
        for (const auto& request : requests) {
          doc_keys.push_back(RequestCacheKey(identity.at(request.type), request, by_origin, by_document));
          if (unique.emplace(doc_keys.back(), &request).second) {
            order.push_back(doc_keys.back());
            fresh[request.type].push_back(doc_keys.back());
          }
        }
        task_keys.push_back(std::move(doc_keys));
      }
      table.keys.push_back(std::move(task_keys));
      for (auto& [type, keys] : fresh)
        work.push_back(
            {&planned.model_args, type, std::move(keys), by_document && type == RequestType::kLoglikelihood});
    }
    if (shard_) {  // this shard's requests only
      order.clear();
      for (auto& item : work) {
        std::vector<std::string> mine;
        for (const auto& key : item.keys)
          if (ShardOfRequest(*unique.at(key), shard_->count) == shard_->index) mine.push_back(key);
        item.keys = std::move(mine);
        order.insert(order.end(), item.keys.begin(), item.keys.end());
      }
      table.in_shard = order.size();
    }
    table.responses = store_.LookupResponses(order);
    table.cached = table.responses.size();
    if (table.cached > 0)
      log_ << "llada-eval: " << table.cached << " of " << order.size() << " responses found in the request cache\n";

    size_t pending_total = 0;
    for (auto& item : work) {
      std::vector<std::string> missing;
      for (const auto& key : item.keys)
        if (!table.responses.count(key)) missing.push_back(key);
      // Longest first, as lm-eval orders them: similar lengths share a batch
      // (less padding), and the largest batch runs first (memory fails early).
      // Among equal lengths, equal contexts next to each other: the batching
      // loop below keeps them in one call.
      if (item.by_document) {
        SortByDocument(missing, unique);
      } else {
        std::stable_sort(missing.begin(), missing.end(), [&](const std::string& a, const std::string& b) {
          const Request &x = *unique.at(a), &y = *unique.at(b);
          if (RequestLength(x) != RequestLength(y)) return RequestLength(x) > RequestLength(y);
          return x.context < y.context;
        });
      }
      if (cache_only_) {
        for (const auto& key : missing) table.failed[key] = "no shard store holds this response";
        table.missing += missing.size();
        missing.clear();
      }
      item.keys = std::move(missing);
      pending_total += item.keys.size();
    }
    Progress progress("requests", static_cast<int64_t>(pending_total), log_, interactive_);
    for (const auto& item : work) {
      if (item.keys.empty()) continue;
      ConfigureFor(*item.settings);
      for (size_t start = 0, end = 0; start < item.keys.size(); start = end) {
        end = std::min(item.keys.size(), start + batch_size_);
        // A likelihood batch never splits requests with the same context and
        // length (a question's equal-length choices): a Monte-Carlo backend
        // computes the rows they share once (one row for all the one-token
        // answers of an MMLU question), whatever --batch-size is.
        // With by_document, a document's requests are never split either:
        // their estimates depend on one another.
        while (item.type == RequestType::kLoglikelihood && end < item.keys.size()) {
          const Request &last = *unique.at(item.keys[end - 1]), &next = *unique.at(item.keys[end]);
          const bool same_document =
              next.origin.task == last.origin.task && next.origin.doc_index == last.origin.doc_index;
          const bool shares_rows = next.context == last.context && RequestLength(next) == RequestLength(last);
          if (!(item.by_document ? same_document : shares_rows)) break;
          ++end;
        }
        const std::vector<std::string> batch(item.keys.begin() + start, item.keys.begin() + end);
        RunBatch(item.type, batch, unique, &table);
        progress.Advance(static_cast<int64_t>(batch.size()));
        if (after_commit_) after_commit_(table.computed);
      }
    }
    if (pending_total > 0) progress.Finish();
    return table;
  }

 private:
  // The backend's settings are data per task (PlannedTask::model_args): the
  // model is reconfigured only when the next task's differ from those in
  // force, so a run whose tasks share their settings configures it once.
  void ConfigureFor(const nlohmann::json& settings) {
    if (configured_ && *configured_ == settings) return;
    model_.Configure(settings);
    configured_ = settings;
  }

  std::vector<Response> Call(RequestType type, const std::vector<std::string>& keys,
                             const std::map<std::string, const Request*>& unique) {
    std::vector<Request> batch;
    for (const auto& key : keys) batch.push_back(*unique.at(key));
    std::vector<Response> answered =
        type == RequestType::kLoglikelihood ? model_.Loglikelihood(batch) : model_.GenerateUntil(batch);
    if (answered.size() != batch.size()) throw InternalError("backend returned the wrong number of responses");
    return answered;
  }

  // Answers one batch and commits it before returning, so a killed run keeps it.
  void RunBatch(RequestType type, const std::vector<std::string>& keys,
                const std::map<std::string, const Request*>& unique, ResponseTable* table) {
    std::vector<CacheEntry> entries;
    auto record = [&](const std::string& key, const Response& response) {
      CacheEntry entry{key, RequestTypeName(type), nlohmann::json(RequestJson(*unique.at(key))),
                       ResponseJson(type, response)};
      table->responses[key] = entry.response;
      entries.push_back(std::move(entry));
    };
    try {
      const std::vector<Response> answered = Call(type, keys, unique);
      for (size_t i = 0; i < keys.size(); ++i) record(keys[i], answered[i]);
    } catch (const SampleError&) {
      // One bad request must not sink its batch: retry them one by one.
      for (const auto& key : keys) {
        try {
          record(key, Call(type, {key}, unique).at(0));
        } catch (const SampleError& e) {
          table->failed[key] = e.what();
        }
      }
    }
    store_.PutResponses(entries, model_id_);
    table->computed += entries.size();
  }

  const std::function<void(size_t)>& after_commit_;
  const std::optional<ShardSpec> shard_;
  const bool cache_only_;
  std::optional<nlohmann::json> configured_;  // the settings in force
  Model& model_;
  Store& store_;
  int64_t model_id_;
  size_t batch_size_;
  std::ostream& log_;
  bool interactive_;
};

// Which aggregate: a task's (or group's) metric under one filter.
struct MetricId {
  std::string task, filter, metric;
  bool operator<(const MetricId& other) const {
    return std::tie(task, filter, metric) < std::tie(other.task, other.filter, other.metric);
  }
};
using MetricIndex = std::map<MetricId, MetricRecord>;

// A scored document: its sample record (stored as it is), whether it stayed
// unscored through no fault of its own, and its metric values by (filter,
// metric) for aggregation.
struct ScoredDocument {
  SampleRecord sample;
  bool unscored = false;
  std::vector<std::pair<std::pair<std::string, std::string>, double>> values;  // ((filter, metric), value)
};

// Records an aggregate under its task, filter and metric, in the index and the report.
void AddMetric(MetricRecord record, const Aggregate& aggregate, MetricIndex* index, TaskReport* report) {
  record.task = report->name;
  record.is_group = report->is_group;
  record.version = report->version;
  record.value = aggregate.value;
  record.stderr_value = aggregate.stderr_value;
  record.n = static_cast<int64_t>(aggregate.count);
  (*index)[MetricId{record.task, record.filter, record.metric}] = record;
  report->metrics.push_back(record);
}

// A task's speed from its responses' costs (each distinct request once;
// cached ones keep the cost of the run that computed them). Generation:
// forward calls, tokens, tokens/s and requests/s over model time, tokens per
// forward. Monte-Carlo likelihood: rows requested (samples, also per
// request) against rows computed.
// Null when no response carries a cost.
nlohmann::json TaskSpeed(const std::vector<std::vector<std::string>>& keys, const ResponseTable& table) {
  std::set<std::string> seen;
  int64_t requests = 0, calls = 0, tokens = 0, rows = 0;
  double seconds = 0.0, rows_computed = 0.0;
  bool likelihood = false;
  for (const auto& document : keys)
    for (const auto& key : document) {
      auto it = table.responses.find(key);
      if (it == table.responses.end() || !it->second.contains("cost") || !seen.insert(key).second) continue;
      const auto& cost = it->second.at("cost");
      ++requests;
      seconds += cost.at("seconds").get<double>();
      if (cost.contains("rows")) {
        likelihood = true;
        rows += cost.at("rows").get<int64_t>();
        rows_computed += cost.at("rows_computed").get<double>();
      } else {
        calls += cost.at("forward_calls").get<int64_t>();
        tokens += cost.at("generated_tokens").get<int64_t>();
      }
    }
  if (requests == 0) return nullptr;
  auto per = [](double a, double b) { return b > 0 ? nlohmann::json(a / b) : nlohmann::json(nullptr); };
  if (likelihood)
    return {{"requests", requests},
            {"rows_requested", rows},
            // Samples per estimate: mc_num, or fewer under mc_adaptive.
            {"samples_per_request", per(static_cast<double>(rows), static_cast<double>(requests))},
            {"rows_computed", std::llround(rows_computed)},
            {"model_seconds", seconds},
            {"requests_per_second", per(requests, seconds)},
            {"rows_computed_per_second", per(rows_computed, seconds)}};
  return {{"requests", requests},
          {"forward_calls", calls},
          {"generated_tokens", tokens},
          {"model_seconds", seconds},
          {"tokens_per_second", per(tokens, seconds)},
          {"requests_per_second", per(requests, seconds)},
          {"tokens_per_forward", per(tokens, calls)},
          {"forward_calls_per_request", per(calls, requests)}};
}

// One document's sample record: its responses, filtered answers, metric
// values and details (keyed "<metric>,<filter>" as lm-eval writes them), or
// the error that stopped it.
ScoredDocument ScoreDocument(const Task& task, size_t doc_index, const std::vector<std::string>& keys,
                             const ResponseTable& table, const ScoringContext& context) {
  ScoredDocument scored;
  SampleRecord& sample = scored.sample;
  sample = {task.name(),
            static_cast<int64_t>(doc_index),
            "",
            keys,
            nlohmann::json::array(),
            nlohmann::json::object(),
            nlohmann::json::object(),
            ""};
  std::vector<Response> responses;
  for (const auto& key : keys) {
    if (auto failed = table.failed.find(key); failed != table.failed.end()) {
      sample.error = failed->second;
      return scored;
    }
    const nlohmann::json& stored = table.responses.at(key);
    if (stored.contains("text")) {
      sample.responses.push_back(stored.at("text"));
    } else {
      nlohmann::json answer = stored;
      answer.erase("cost");  // kept apart, below
      sample.responses.push_back(answer);
    }
    responses.push_back(ResponseFromJson(stored));
    // What the answer cost, without what depends on the machine or the batch
    // (wall time, shared rows): a sample record depends only on the run's
    // configuration (the rest is in the store's response).
    if (stored.contains("cost")) {
      nlohmann::json cost = stored.at("cost");
      cost.erase("seconds");
      cost.erase("rows_computed");
      sample.details["cost"].push_back(cost);
    }
  }
  try {
    const DocumentScore score = task.Score(doc_index, responses, context);
    sample.target = score.target;
    sample.error = score.error;
    scored.unscored = score.unscored;
    for (const auto& outcome : score.outcomes) {
      sample.filtered[outcome.filter] = outcome.answer;
      for (const auto& [metric, value] : outcome.metrics) {
        if (!std::isfinite(value)) {  // never let a NaN into a mean
          sample.error = metric + " is not a number for this document";
          continue;
        }
        sample.metrics[metric + "," + outcome.filter] = value;
        scored.values.push_back({{outcome.filter, metric}, value});
      }
      for (const auto& [metric, details] : outcome.details) sample.details[metric + "," + outcome.filter] = details;
    }
  } catch (const SampleError& e) {
    sample.error = e.what();
  }
  return scored;
}

// Scores every document of a task and stores the samples. Code tasks score
// `workers` documents at once (each program waits for a free sandbox slot) and
// store each sample as it is scored, so verdicts already computed survive a
// failure later in the run; results land by document, so the order of
// completion does not matter.
std::vector<ScoredDocument> ScoreDocuments(const PlannedTask& planned,
                                           const std::vector<std::vector<std::string>>& keys,
                                           const ResponseTable& table, const ScoringContext& context, Store& store,
                                           int64_t run_id, int workers, std::ostream& log, bool interactive) {
  const Task& task = *planned.task;
  const size_t count = planned.doc_indices.size();
  std::vector<ScoredDocument> scored(count);
  if (!task.RunsCode()) {
    std::vector<SampleRecord> samples;
    for (size_t d = 0; d < count; ++d) {
      scored[d] = ScoreDocument(task, planned.doc_indices[d], keys[d], table, context);
      samples.push_back(scored[d].sample);
    }
    store.PutSamples(run_id, samples);
    return scored;
  }
  Progress progress("running " + task.name() + " programs", static_cast<int64_t>(count), log, interactive);
  std::mutex mutex;  // the progress line and the store
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  auto work = [&] {
    for (size_t d = next++; d < count; d = next++) {
      try {
        scored[d] = ScoreDocument(task, planned.doc_indices[d], keys[d], table, context);
        std::lock_guard<std::mutex> lock(mutex);
        store.PutSamples(run_id, {scored[d].sample});
      } catch (...) {  // an unusable sandbox or store: stop everyone, report once
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        next = count;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      progress.Advance();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, std::min<int>(workers, static_cast<int>(count))); ++i) threads.emplace_back(work);
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
  if (count > 0) progress.Finish();
  return scored;
}

// Scores one task's documents, stores the samples, and returns its report.
TaskReport ScoreTask(PlannedTask& planned, const std::vector<std::vector<std::string>>& keys,
                     const ResponseTable& table, const ScoringContext& context, Store& store, int64_t run_id,
                     int code_workers, std::ostream& log, bool interactive, MetricIndex* index,
                     size_t* failed_documents, size_t* unscored_documents) {
  Task& task = *planned.task;
  std::map<std::pair<std::string, std::string>, std::vector<double>> values;  // (filter, metric)
  for (const auto& document :
       ScoreDocuments(planned, keys, table, context, store, run_id, code_workers, log, interactive)) {
    if (!document.sample.error.empty()) ++*failed_documents;
    *unscored_documents += document.unscored;
    for (const auto& [filter_metric, value] : document.values) values[filter_metric].push_back(value);
  }

  TaskReport report;
  report.name = task.name();
  report.version = task.version();
  report.num_fewshot = planned.num_fewshot;
  report.n_original = static_cast<int64_t>(task.NumDocs());
  report.n_effective = static_cast<int64_t>(planned.doc_indices.size());
  report.config = task.Describe();
  report.speed = TaskSpeed(keys, table);
  for (const auto& reported : task.reported_metrics()) {
    MetricRecord record;
    record.filter = reported.filter;
    record.metric = reported.metric;
    record.num_fewshot = planned.num_fewshot;
    record.higher_is_better = reported.higher_is_better;
    // No document produced this metric (all failed, e.g. code without an
    // executor): there is no value to report; the samples say why.
    const auto& scored = values[{reported.filter, reported.metric}];
    if (scored.empty()) {  // listed in the report as N/A (n = 0), not stored
      record.task = report.name;
      record.version = report.version;
      record.n = 0;
      report.metrics.push_back(record);
      continue;
    }
    AddMetric(record, MeanAggregate(scored), index, &report);
  }
  return report;
}

// A group's report from its subtasks' records (which must already be indexed).
TaskReport AggregateGroup(const GroupSpec& group, const TaskRegistry& registry, MetricIndex* index) {
  TaskReport report;
  report.name = group.name;
  report.is_group = true;
  report.version = group.version;
  for (const auto& sub : group.subtasks) report.subtasks.push_back(registry.Canonical(sub));
  for (const auto& spec : group.aggregate) {
    std::vector<SubtaskAggregate> parts;
    MetricRecord record;
    for (const auto& sub : report.subtasks) {
      auto it = index->find(MetricId{sub, spec.filter, spec.metric});
      if (it == index->end()) continue;
      parts.push_back({it->second.value, it->second.stderr_value, static_cast<size_t>(it->second.n)});
      record.num_fewshot = it->second.num_fewshot;
      record.higher_is_better = it->second.higher_is_better;
    }
    if (parts.empty()) continue;
    record.filter = spec.filter;
    record.metric = spec.metric;
    report.num_fewshot = record.num_fewshot;
    AddMetric(record, AggregateSubtasks(parts, spec.weight_by_size), index, &report);
  }
  return report;
}

}  // namespace

RunOutcome Evaluator::Run(const EvalOptions& given) {
  EvalOptions options = given;
  options.model.model_args = MergedModelArgs(options, "", tasks_);
  RunOutcome outcome;
  // 1. Everything that can be wrong with the input is checked before the store
  //    is touched: output directory, tasks, data files, the model.
  PrepareOutputDir(options.output_dir);
  outcome.db_path = !options.db_path.empty() ? options.db_path
                    : options.shard          ? options.output_dir / ShardStoreName(*options.shard)
                                             : options.output_dir / "llada-eval.db";
  Plan plan = BuildPlan(tasks_, options);
  if (plan.chat_template && !plan.chat_template->has_system_role())
    log_ << "llada-eval: note: chat template '" << plan.chat_template->name()
         << "' has no system role: task descriptions and --system-instruction are left out of the prompts, as "
            "lm-eval does\n";
  options.model.load_weights = !options.cache_only;
  std::unique_ptr<Model> model = models_.Create(options.model);
  CheckCapabilities(plan, model->Capabilities(), options.model.spec);

  // 2. The resolved configuration and its hash identify the run (a shard's
  //    says which shard it is; merged, it is the unsharded run's).
  nlohmann::json task_hashes, data_hashes;
  nlohmann::json config = ResolvedConfig(options, plan, model->Identity(), &task_hashes, &data_hashes);
  if (options.expected_config) CheckSameConfiguration(*options.expected_config, config);
  if (options.shard) config["shard"] = {{"index", options.shard->index}, {"count", options.shard->count}};
  const std::string config_hash = Sha256Hex(config.dump());
  // Where it ran and how it was asked for: recorded, but not hashed (a run
  // may resume on another machine).
  config["machine"] = DescribeMachine();
  config["command_line"] = options.command_line;
  config["working_directory"] = std::filesystem::current_path().string();
  if (options.partial) config["partial"] = options.partial_note;
  // How the device and dtype compute (a function of what is hashed already).
  const nlohmann::json description = model->Describe();
  if (description.contains("numerics")) {
    config["numerics"] = description.at("numerics");
    for (const auto& difference : description["numerics"].value("differences_from_reference", nlohmann::json::array()))
      log_ << "llada-eval: note: on " << options.model.device << " in "
           << description["numerics"].value("compute_dtype", options.model.dtype)
           << ", unlike the CPU float32 reference: " << difference.get<std::string>() << "\n";
  }

  // The CPU threads the model's math ran on (recorded, not hashed, like the machine).
  if (description.contains("cpu_threads")) config["cpu_threads"] = description.at("cpu_threads");

  // 3. Open the store; resume an unfinished run with the same configuration.
  std::unique_ptr<Store> store = Store::Open(outcome.db_path);
  const int64_t model_id = store->UpsertModel(model->Identity(), options.model.spec, description);
  const ProcessOwner me = CurrentProcess();
  const ResumeClaim claim = store->ClaimResumableRun(config_hash, me);
  int64_t run_id;
  if (claim.run_id) {
    run_id = *claim.run_id;
    outcome.resumed = true;
    log_ << "llada-eval: resuming run " << run_id << " (same configuration, unfinished)\n";
  } else {
    run_id = store->CreateRun({model_id, options.model.spec, options.tasks, config, config_hash, task_hashes,
                               data_hashes, options.preset, kHarnessVersion, kGitSha, me.host},
                              me);
    if (claim.live_run)
      log_ << "llada-eval: run " << *claim.live_run << " has the same configuration and is still running (pid "
           << claim.live_owner.pid << " on " << claim.live_owner.host << "); this is run " << run_id
           << ", beside it (they share the request cache)\n";
  }
  const RunHeartbeat heartbeat(outcome.db_path, run_id);

  try {
    // 4. Only requests missing from the cache reach the model. The sandbox is
    //    configured first: a code task's programs run once responses are in.
    SandboxRunner& sandbox = CodeSandbox();
    sandbox.Configure(options.code_execution, &log_);
    const ScoringContext scoring{&sandbox};
    ResponseFetcher fetcher(*model, *store, model_id, options, log_, interactive_);
    const ResponseTable table = fetcher.Fetch(plan);
    outcome.cached_responses = table.cached;
    outcome.computed_responses = table.computed;
    if (options.shard) {  // scored once merged with the other shards
      outcome.shard_requests = table.in_shard;
      store->FinishRun(run_id, "finished");
      outcome.report = {run_id, config, config_hash, kGitSha, kHarnessVersion, {}};
      return outcome;
    }
    outcome.missing_responses = table.missing;
    if (table.missing > 0 && !options.partial)
      throw UserError(std::to_string(table.missing) + " of the run's responses are in no shard store (a shard of " +
                      "another configuration, or one that did not finish); merge --partial scores the rest");

    // 5. Scores: leaf tasks, then groups innermost first.
    MetricIndex index;
    std::map<std::string, TaskReport> reports;
    for (size_t t = 0; t < plan.tasks.size(); ++t) {
      TaskReport report = ScoreTask(plan.tasks[t], table.keys[t], table, scoring, *store, run_id,
                                    options.code_execution.ResolvedWorkers(), log_, interactive_, &index,
                                    &outcome.failed_documents, &outcome.unscored_documents);
      if (options.after_store) options.after_store("samples " + report.name);
      reports[report.name] = std::move(report);
    }
    for (const auto& group : plan.selection.groups)
      reports[group] = AggregateGroup(*tasks_.FindGroup(group), tasks_, &index);
    std::vector<MetricRecord> all_metrics;
    for (const auto& entry : index) all_metrics.push_back(entry.second);
    store->PutMetrics(run_id, all_metrics);
    for (const auto& [name, report] : reports)
      if (!report.speed.is_null()) store->PutSpeed(run_id, name, report.speed);
    if (options.after_store) options.after_store("metrics");
    store->FinishRun(run_id, "finished");

    // 6. Outputs, in the order the user asked for the tasks.
    std::vector<std::string> order;
    std::map<std::string, int> depths;
    for (const auto& name : options.tasks) AddToDisplay(tasks_.Canonical(name), 0, tasks_, &order, &depths);
    outcome.report = {run_id, config, config_hash, kGitSha, kHarnessVersion, {}};
    for (const auto& name : order) {
      auto it = reports.find(name);
      if (it == reports.end()) continue;
      it->second.depth = depths.at(name);
      outcome.report.tasks.push_back(it->second);
    }
    outcome.results_path = options.output_dir / ("results_" + UtcTimestamp(TimestampStyle::kFileName) + ".json");
    WriteFileAtomically(outcome.results_path, BuildResultsJson(outcome.report).dump(2) + "\n");
    if (options.log_samples) {
      for (const auto& planned : plan.tasks) {
        std::string lines;
        for (const auto& sample : store->LoadSamples(run_id, planned.task->name()))
          lines += SampleJson(sample).dump() + "\n";
        outcome.sample_paths.push_back(options.output_dir / ("samples_" + planned.task->name() + ".jsonl"));
        WriteFileAtomically(outcome.sample_paths.back(), lines);
      }
    }
  } catch (const Error& e) {
    store->FinishRun(run_id, "failed", e.what());
    throw;
  }
  return outcome;
}

}  // namespace llada
