// The orchestrator: configs -> tasks -> requests -> model (through the request
// cache) -> responses -> scores -> store -> reports.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "models/model.h"
#include "reports/results.h"
#include "scorers/code_execution.h"
#include "tasks/registry.h"

namespace llada {

struct DocRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
};

// Parses "A:B" (either side may be empty: ":100", "50:"). Throws UserError.
DocRange ParseDocRange(const std::string& text);

// One of N independent parts of a run (`run --shard I/N`, I from 0): the
// requests of the documents whose (task, index) hashes to I mod N -- by
// content, so a request's shard depends neither on the worker count nor on
// the order requests run in (evaluator.cc: ShardOfRequest says why by
// document rather than by request).
struct ShardSpec {
  int index = 0;
  int count = 1;
};

// Parses "I/N" (0 <= I < N). Throws UserError naming --shard.
ShardSpec ParseShard(const std::string& text);

// The shard a hex sha256 falls in: its first 60 bits mod `count`.
int ShardOfKey(const std::string& key, int count);

// A shard's default store in the output directory: llada-eval.shard-I-of-N.db.
std::string ShardStoreName(const ShardSpec& shard);

// Where two runs' configurations differ in what decides their numbers (the
// hashed part, the shard aside): the first differing field as a path
// ("model_identity", "tasks/0/num_fewshot"), or empty when they agree.
std::string ConfigurationDifference(const nlohmann::json& a, const nlohmann::json& b);

struct EvalOptions {
  std::vector<std::string> tasks;      // as given on the command line
  std::optional<int> num_fewshot;      // --shots; unset: preset, else each task's default
  std::optional<int64_t> limit;        // first N documents (after --doc-range)
  std::optional<DocRange> doc_range;
  std::filesystem::path data_dir;
  std::filesystem::path output_dir;
  std::filesystem::path db_path;       // empty: <output_dir>/llada-eval.db
  bool log_samples = false;
  std::string preset;                  // name, or empty
  nlohmann::json preset_config = nlohmann::json::object();
  uint64_t fewshot_seed = 1234;
  // Chat formatting (lm-eval's --apply_chat_template, --system_instruction,
  // --fewshot_as_multiturn). The template is chat_template_name, else the one
  // the model directory's tokenizer_config.json declares.
  bool apply_chat_template = false;
  std::string chat_template_name;
  std::optional<std::string> system_instruction;
  bool fewshot_as_multiturn = false;
  ModelOptions model;                  // model.model_args: set by Evaluator::Run (the preset's, then cli_model_args)
  nlohmann::json cli_model_args = nlohmann::json::object();  // --model-args and the setting flags
  CodeExecutionOptions code_execution;  // code tasks: sandbox workers, time limits, --unsafe-exec
  // Sharded runs (docs/sharding.md). With `shard`, only that shard's
  // requests are computed and stored (default store:
  // <output>/llada-eval.shard-I-of-N.db) and nothing is scored.
  std::optional<ShardSpec> shard;
  // `merge`: every response comes from the store (the model's weights are
  // not loaded). A missing one is an error, or with `partial` fails its
  // document alone and the run is marked partial.
  bool cache_only = false;
  bool partial = false;
  nlohmann::json partial_note;  // recorded as config.partial when `partial`
  // `merge`: the shards' resolved configuration; this run's must be equal
  // (UserError naming the first field that differs).
  std::optional<nlohmann::json> expected_config;
  // The command line as given (recorded as config.command_line: `merge`
  // parses it again to score the shards' union as the run would).
  std::vector<std::string> command_line;
  // Test seam: called after each batch of responses is committed, with the
  // number computed so far (tests kill or pause a run there).
  std::function<void(size_t committed)> after_commit;
  // Test seam: called after each write of the scoring phase, with what was
  // stored: "samples <task>" once a task's samples are in, then "metrics".
  std::function<void(const std::string& stored)> after_store;
};

// One task's share of a run: the task, the documents chosen, their requests.
struct PlannedTask {
  std::unique_ptr<Task> task;
  int num_fewshot = 0;
  nlohmann::json model_args = nlohmann::json::object();  // backend settings for this task
  std::vector<size_t> doc_indices;
  std::vector<std::vector<Request>> requests;  // per chosen document
};

struct Plan {
  TaskSelection selection;
  std::unique_ptr<ChatTemplate> chat_template;  // set under --apply-chat-template
  std::vector<PlannedTask> tasks;
  size_t TotalRequests() const;
};

// Resolves tasks, loads their data and builds every request. No model, no store.
Plan BuildPlan(const TaskRegistry& registry, const EvalOptions& options);

// JSONL line for `llada-eval requests`.
nlohmann::ordered_json RequestJson(const Request& request);

struct RunOutcome {
  RunReport report;
  std::filesystem::path results_path;
  std::vector<std::filesystem::path> sample_paths;
  std::filesystem::path db_path;
  bool resumed = false;
  size_t cached_responses = 0;
  size_t computed_responses = 0;
  size_t failed_documents = 0;
  size_t unscored_documents = 0;  // of those, not through their own fault (sandbox errors): exit 4
  size_t shard_requests = 0;      // a shard run: the requests of its shard (nothing was scored)
  size_t missing_responses = 0;   // a partial merge: requests no shard answered
};

class Evaluator {
 public:
  Evaluator(const TaskRegistry& tasks, const ModelRegistry& models, std::ostream& log, bool interactive);
  // Runs (or resumes) an evaluation. UserError on bad input; whatever was
  // committed to the store before an error stays there.
  RunOutcome Run(const EvalOptions& options);

 private:
  const TaskRegistry& tasks_;
  const ModelRegistry& models_;
  std::ostream& log_;
  bool interactive_;
};

// Cache key of a request for a model: sha256 over the model identity, the
// request kind and its arguments (plus its origin for origin-keyed models).
// `by_document`: the answer depends on the request's document (see
// ModelCapabilities::likelihoods_by_document), so the origin and the ranking
// rule are part of a likelihood request's key.
std::string RequestCacheKey(const std::string& model_identity, const Request& request, bool keyed_by_origin,
                            bool by_document = false);

}  // namespace llada
