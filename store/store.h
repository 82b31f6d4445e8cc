// Store: the SQLite result store (WAL). Models, runs, the request cache that
// makes reruns free and killed runs resumable, per-document samples and
// aggregated metrics. The schema is versioned (PRAGMA user_version) and
// migrated on open; docs/store.md documents every table.
//
// Thread safety: one Store per thread; SQLite's own locking (WAL, a busy
// timeout of a minute) lets several processes share a file, and runs record
// their owning process so that two never work on one run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/process.h"

struct sqlite3;

namespace llada {

struct RunRecord {
  int64_t model_id = 0;
  std::string model_spec;        // --model as given
  nlohmann::json tasks;          // the --tasks list as given
  nlohmann::json config;         // the full resolved configuration
  std::string config_hash;
  nlohmann::json task_hashes;    // task name -> hash of its resolved config
  nlohmann::json data_hashes;    // data file -> sha256
  std::string preset;
  std::string harness_version;
  std::string git_sha;
  std::string host;
};

struct CacheEntry {
  std::string key;
  std::string request_type;
  nlohmann::json request;
  nlohmann::json response;
};

struct SampleRecord {
  std::string task;
  int64_t doc_index = 0;
  std::string target;
  nlohmann::json request_keys;  // array of cache keys, in request order
  nlohmann::json responses;     // array of raw responses
  nlohmann::json filtered;      // filter name -> answer
  nlohmann::json metrics;       // "<metric>,<filter>" -> value
  std::string error;            // non-empty when the document could not be scored
  nlohmann::json details = nlohmann::json::object();  // "<metric>,<filter>" -> how it was computed
};

struct MetricRecord {
  std::string task;  // a leaf task or a group
  bool is_group = false;
  int version = 0;
  std::string filter;
  std::string metric;
  int num_fewshot = 0;
  double value = 0.0;
  std::optional<double> stderr_value;
  int64_t n = 0;
  bool higher_is_better = true;
};

struct RunSummary {
  int64_t id = 0;
  std::string model_spec;
  std::string status;
  std::string started_at;
  std::string finished_at;
  std::string config_hash;
};

// A run as `runs`, `report` and `compare` read it back.
struct StoredRun {
  int64_t id = 0;
  RunRecord record;
  std::string status;      // running, finished, failed
  std::string started_at;  // ISO 8601 UTC
  std::string finished_at;
  std::string error;
  std::string model_identity;
  nlohmann::json model_description;  // the backend's Describe()
};

// What ClaimResumableRun found.
struct ResumeClaim {
  std::optional<int64_t> run_id;    // claimed: resume it
  std::optional<int64_t> live_run;  // same configuration, still running in another process
  ProcessOwner live_owner;
};

class Store {
 public:
  // Opens or creates the database and migrates it to the current schema.
  // Throws UserError naming the file when it cannot be opened or is not ours.
  static std::unique_ptr<Store> Open(const std::filesystem::path& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static int CurrentSchemaVersion();
  int SchemaVersion();

  int64_t UpsertModel(const std::string& identity, const std::string& spec, const nlohmann::json& description);

  // Claims the newest unfinished run with this configuration hash that no
  // live process owns (killed, or failed), in one write transaction: it is
  // then `running` and owned by `owner`. Runs whose owner is alive are never
  // taken over; the newest of them is reported.
  ResumeClaim ClaimResumableRun(const std::string& config_hash, const ProcessOwner& owner);
  int64_t CreateRun(const RunRecord& run, const ProcessOwner& owner);
  // The owner of a running run says it is alive (see ProcessOwner).
  void Heartbeat(int64_t run_id);
  static constexpr int kHeartbeatSeconds = 20;
  void FinishRun(int64_t run_id, const std::string& status, const std::string& error = "");
  std::optional<RunSummary> GetRun(int64_t run_id);
  // Every run, oldest first, with its configuration and model.
  std::vector<StoredRun> ListRuns();
  // The tasks a run stored samples for, in name order.
  std::vector<std::string> SampleTasks(int64_t run_id);

  // Cached responses for the keys that are present.
  std::map<std::string, nlohmann::json> LookupResponses(const std::vector<std::string>& keys);
  // The stored requests (context, continuation, ...) for the keys that are present.
  std::map<std::string, nlohmann::json> LookupRequests(const std::vector<std::string>& keys);
  // Commits the entries in one transaction (each batch is durable on return).
  void PutResponses(const std::vector<CacheEntry>& entries, int64_t model_id);

  // Copies another store's request cache (a shard's) into this one by key,
  // in one transaction, with the models it references. Keys already here are
  // kept, so importing twice adds nothing; a key whose response here differs
  // (its cost aside) is a UserError naming it and `other`. Returns the
  // number of responses added.
  int64_t ImportResponses(const std::filesystem::path& other);

  void PutSamples(int64_t run_id, const std::vector<SampleRecord>& samples);
  std::vector<SampleRecord> LoadSamples(int64_t run_id, const std::string& task);
  void PutMetrics(int64_t run_id, const std::vector<MetricRecord>& metrics);
  std::vector<MetricRecord> LoadMetrics(int64_t run_id);
  // A generation task's speed in a run (results' "speed" entry), by task.
  void PutSpeed(int64_t run_id, const std::string& task, const nlohmann::json& summary);
  std::map<std::string, nlohmann::json> LoadSpeed(int64_t run_id);

  int64_t CountRows(const std::string& table);

 private:
  Store(sqlite3* db, std::string path);
  void Exec(const std::string& sql);
  void SwitchToWal();
  static constexpr int kBusyTimeoutMs = 60000;
  // `column` ("request" or "response") of the cache rows with these keys.
  std::map<std::string, nlohmann::json> LookupCacheColumn(const std::string& column,
                                                          const std::vector<std::string>& keys);
  void Migrate();
  sqlite3* db_;
  std::string path_;
};

}  // namespace llada
