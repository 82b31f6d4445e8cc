// `llada-eval merge SHARD.db...`: folds the stores of a sharded run (`run
// --shard I/N`) into one store by request key, then scores and writes the
// results as the one-process run would: the same command line, read back from
// the shards, with every response served from the merged store.
#include <unistd.h>

#include <iostream>
#include <set>

#include "core/errors.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/cli/store_commands.h"
#include "harness/evaluator.h"
#include "models/model.h"
#include "store/store.h"

namespace llada {
namespace {

// A shard store as merge reads it: its newest shard run.
struct ShardStore {
  std::filesystem::path path;
  ShardSpec shard;
  std::string status;  // finished, running, failed
  nlohmann::json config;
};

ShardStore ReadShardStore(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw UserError::InFile(path.string(), "", "shard store not found (run --shard I/N writes one per shard)");
  const auto store = Store::Open(path);
  std::optional<ShardStore> newest;
  for (const auto& run : store->ListRuns()) {
    const auto& shard = run.record.config.value("shard", nlohmann::json());
    if (!shard.is_object()) continue;
    newest = ShardStore{path, {shard.at("index").get<int>(), shard.at("count").get<int>()}, run.status,
                        run.record.config};
  }
  if (!newest) throw UserError::InFile(path.string(), "runs", "no shard run in this store (not written by run --shard)");
  if (!newest->config.contains("command_line") || !newest->config["command_line"].is_array())
    throw UserError::InFile(path.string(), "runs.config.command_line", "the shard run did not record its command line");
  return *newest;
}

std::string Name(const ShardSpec& shard) { return std::to_string(shard.index) + "/" + std::to_string(shard.count); }

class MergeCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* merge = app.add_subcommand(
        "merge", "Fold the stores of a sharded run (run --shard I/N) into one and score it as one run would");
    merge->add_option("shards", request_.shard_stores, "The shard stores (llada-eval.shard-I-of-N.db)")->required();
    merge->add_option("--output", request_.output,
                      "Directory for the results, samples and merged store (default: the run's)");
    merge->add_option("--db", request_.db, "Merged store (default: <output>/llada-eval.db)");
    merge->add_flag("--log-samples", request_.log_samples, "Write samples_<task>.jsonl per task");
    merge->add_flag("--partial", request_.partial,
                    "Merge the shards that exist: documents whose responses are missing fail, and the results say "
                    "the run is partial");
    merge->add_option("--data-dir", request_.data_dir, "Benchmark files, when not where the shards read them");
    return merge;
  }

  int Run(CommandContext& context) override {
    request_.command_line = context.args;
    return ReportMerged(MergeShardStores(request_, context));
  }

 private:
  MergeRequest request_;
};

}  // namespace

RunOutcome MergeShardStores(const MergeRequest& request, CommandContext& context) {
    // 1. The shards: one sharded run, one configuration, each shard once.
    std::vector<ShardStore> stores;
    std::map<int, std::filesystem::path> by_index;
    for (const auto& path : request.shard_stores) {
      stores.push_back(ReadShardStore(std::filesystem::absolute(path)));
      const ShardStore& store = stores.back();
      if (store.shard.count != stores.front().shard.count)
        throw UserError::InFile(path, "runs.config.shard",
                                "shard " + Name(store.shard) + " is of a run in " + std::to_string(store.shard.count) +
                                    " shards; " + stores.front().path.string() + " is " +
                                    Name(stores.front().shard));
      if (auto [it, fresh] = by_index.emplace(store.shard.index, store.path); !fresh)
        throw UserError::InFile(path, "runs.config.shard",
                                "shard " + Name(store.shard) + " again (also " + it->second.string() + ")");
      if (const std::string field = ConfigurationDifference(stores.front().config, store.config); !field.empty())
        throw UserError::InFile(path, "runs.config." + field,
                                "this shard was run with another configuration than " + stores.front().path.string() +
                                    " (they differ in '" + field + "')");
    }
    const int count = stores.front().shard.count;
    std::vector<std::string> problems;
    nlohmann::json missing = nlohmann::json::array(), unfinished = nlohmann::json::array();
    for (int index = 0; index < count; ++index) {
      if (by_index.count(index)) continue;
      missing.push_back(index);
      problems.push_back("shard " + Name({index, count}) + " is missing (its store: " +
                         (stores.front().path.parent_path() / ShardStoreName({index, count})).string() + ")");
    }
    for (const auto& store : stores) {
      if (store.status == "finished") continue;
      unfinished.push_back(store.shard.index);
      problems.push_back("shard " + Name(store.shard) + " did not finish (" + store.status + ", " +
                         store.path.string() + "): run its command again to complete it");
    }
    for (const auto& problem : problems) std::cerr << "llada-eval: " << (request.partial ? "note: " : "error: ") << problem << "\n";
    if (!problems.empty() && !request.partial)
      throw UserError(std::to_string(problems.size()) + " of " + std::to_string(count) +
                      " shards are not ready; merge --partial merges what there is");

    // 2. The run the shards are parts of, as its command line asks for it.
    //    Relative paths in it are the shard's: resolved where it ran.
    const ShardStore& first = stores.front();
    const std::filesystem::path output = request.output.empty() ? "" : std::filesystem::absolute(request.output);
    const std::filesystem::path db = request.db.empty() ? "" : std::filesystem::absolute(request.db);
    const std::string ran_in = first.config.value("working_directory", std::string());
    std::error_code ec;
    if (!ran_in.empty() && std::filesystem::is_directory(ran_in, ec)) std::filesystem::current_path(ran_in);
    EvalOptions options = ParseRunCommandLine(first.config["command_line"].get<std::vector<std::string>>());
    options.command_line = request.command_line;
    options.shard.reset();
    if (!output.empty()) options.output_dir = output;
    options.output_dir = std::filesystem::absolute(options.output_dir);
    options.db_path = db.empty() ? options.output_dir / "llada-eval.db" : db;
    for (const auto& store : stores)
      if (std::filesystem::equivalent(store.path, options.db_path, ec))
        throw UserError::InFile(store.path.string(), "--db", "the merged store must not be a shard's own store");
    if (!request.data_dir.empty()) options.data_dir = std::filesystem::absolute(request.data_dir);
    options.log_samples = options.log_samples || request.log_samples;
    options.cache_only = true;
    options.partial = !problems.empty();
    if (options.partial) options.partial_note = {{"missing_shards", missing}, {"unfinished_shards", unfinished}};
    options.expected_config = first.config;

    // 3. Every shard's responses in one store (idempotent), then the run.
    std::filesystem::create_directories(options.output_dir);
    {
      const auto merged = Store::Open(options.db_path);
      for (const auto& store : stores) {
        const int64_t added = merged->ImportResponses(store.path);
        std::cerr << "llada-eval: shard " << Name(store.shard) << ": " << added << " responses added from "
                  << store.path.string() << "\n";
      }
    }
    ModelRegistry models;
    RegisterBuiltinModels(models);
    Evaluator evaluator(context.Tasks(), models, std::cerr, isatty(STDERR_FILENO) != 0);
    const RunOutcome outcome = evaluator.Run(options);
  return outcome;
}

int ReportMerged(const RunOutcome& outcome) {
  const int status = ReportOutcome(outcome);
  if (outcome.missing_responses == 0) return status;
  std::cerr << "llada-eval: partial run: " << outcome.missing_responses
            << " requests had no response in the shards merged; their documents failed\n";
  return kExitUnscored;
}

std::unique_ptr<Command> MakeMergeCommand() { return std::make_unique<MergeCommand>(); }

}  // namespace llada
