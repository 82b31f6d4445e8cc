#include "store/store.h"

#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "core/errors.h"
#include "core/text.h"

namespace llada {
namespace {

// Schema migrations, applied in order; entry i takes the schema from version i
// to i + 1. Never edit a shipped entry: append a new one (docs/store.md).
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE models (
  id          INTEGER PRIMARY KEY,
  identity    TEXT NOT NULL UNIQUE,
  spec        TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at  TEXT NOT NULL
);
CREATE TABLE runs (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models(id),
  model_spec      TEXT NOT NULL,
  tasks           TEXT NOT NULL,
  preset          TEXT NOT NULL,
  config          TEXT NOT NULL,
  config_hash     TEXT NOT NULL,
  task_hashes     TEXT NOT NULL,
  data_hashes     TEXT NOT NULL,
  harness_version TEXT NOT NULL,
  git_sha         TEXT NOT NULL,
  host            TEXT NOT NULL,
  started_at      TEXT NOT NULL,
  resumed_at      TEXT,
  finished_at     TEXT,
  status          TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  error           TEXT
);
CREATE INDEX runs_by_config ON runs(config_hash, status);
CREATE TABLE request_cache (
  key          TEXT PRIMARY KEY,
  model_id     INTEGER NOT NULL REFERENCES models(id),
  request_type TEXT NOT NULL,
  request      TEXT NOT NULL,
  response     TEXT NOT NULL,
  created_at   TEXT NOT NULL
);
CREATE TABLE samples (
  run_id       INTEGER NOT NULL REFERENCES runs(id),
  task         TEXT NOT NULL,
  doc_index    INTEGER NOT NULL,
  target       TEXT NOT NULL,
  request_keys TEXT NOT NULL,
  responses    TEXT NOT NULL,
  filtered     TEXT NOT NULL,
  metrics      TEXT NOT NULL,
  error        TEXT,
  PRIMARY KEY (run_id, task, doc_index)
);
CREATE TABLE metrics (
  run_id           INTEGER NOT NULL REFERENCES runs(id),
  task             TEXT NOT NULL,
  is_group         INTEGER NOT NULL,
  version          INTEGER NOT NULL,
  filter           TEXT NOT NULL,
  metric           TEXT NOT NULL,
  num_fewshot      INTEGER NOT NULL,
  value            REAL NOT NULL,
  stderr           REAL,
  n                INTEGER NOT NULL,
  higher_is_better INTEGER NOT NULL,
  PRIMARY KEY (run_id, task, filter, metric)
);
)sql",
    // Version 2: per-sample details of how metrics were computed (the code
    // sandbox's verdict, limits and stderr for pass@1).
    R"sql(
ALTER TABLE samples ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
)sql",
    // Version 3: who runs a run (host, pid, process start) and when it last
    // said so, so that a second process never resumes a live run.
    R"sql(
ALTER TABLE runs ADD COLUMN owner_host TEXT;
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN owner_start TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
)sql",
    // Version 4: speed beside accuracy. Per run and generation task, what
    // decoding cost (forward calls, generated tokens, model seconds) and the
    // speed it gave, as the results' "speed" reports it (JSON).
    R"sql(
CREATE TABLE speed (
  run_id  INTEGER NOT NULL REFERENCES runs(id),
  task    TEXT NOT NULL,
  summary TEXT NOT NULL,
  PRIMARY KEY (run_id, task)
);
)sql",
};

// A running run whose owner is on another host is presumed dead once its
// heartbeat (every kHeartbeatSeconds) is this old.
constexpr int kStaleHeartbeatSeconds = 120;

// RAII prepared statement with 1-based binding helpers.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      throw InternalError("SQL prepare failed on " + path + ": " + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& Bind(int index, const std::string& value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int index, int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& Bind(int index, double value) {
    sqlite3_bind_double(stmt_, index, value);
    return *this;
  }
  Statement& BindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  // True while a row is available.
  bool Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw UserError::InFile(path_, "", std::string("database error: ") + sqlite3_errmsg(db_));
  }
  void Run() {
    while (Step()) {
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column)) : "";
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
};

// Commits on Commit(), rolls back if destroyed before.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { Exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void Commit() {
    Exec("COMMIT");
    done_ = true;
  }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "unknown";
      sqlite3_free(error);
      throw UserError(std::string("database error (") + sql + "): " + message);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace

int Store::CurrentSchemaVersion() { return static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0])); }

std::unique_ptr<Store> Store::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw UserError::InFile(path.string(), "--db", "cannot open the result store: " + message);
  }
  // Another process may hold the write lock (a run committing a batch):
  // wait for it rather than fail.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::unique_ptr<Store> store(new Store(db, path.string()));
  try {
    store->SwitchToWal();
    store->Exec("PRAGMA synchronous=NORMAL");
    store->Exec("PRAGMA foreign_keys=ON");
    store->Migrate();
  } catch (const InternalError&) {
    throw UserError::InFile(path.string(), "--db", "not an llada-eval result store (or corrupt)");
  }
  return store;
}

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Store::~Store() { sqlite3_close(db_); }

void Store::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw UserError::InFile(path_, "--db", "database error: " + message);
  }
}

// Switching a new file to WAL takes an exclusive lock, and SQLite reports a
// busy database here without consulting the busy handler: retry for as long
// as the busy timeout would wait.
void Store::SwitchToWal() {
  for (int waited_ms = 0;; waited_ms += 20) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &error);
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    if (rc == SQLITE_OK) return;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= kBusyTimeoutMs)
      throw UserError::InFile(path_, "--db", "database error: " + message);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Store::SchemaVersion() {
  Statement statement(db_, "PRAGMA user_version", path_);
  statement.Step();
  return static_cast<int>(statement.Int(0));
}

// Each step reads the version inside its write transaction: two processes
// opening a new file at once both wait for the lock, and the second finds the
// work done instead of migrating again.
void Store::Migrate() {
  if (SchemaVersion() == CurrentSchemaVersion()) return;  // the usual case: no write lock needed
  while (true) {
    Transaction transaction(db_);
    const int version = SchemaVersion();
    if (version > CurrentSchemaVersion())
      throw UserError::InFile(path_, "--db",
                              "schema version " + std::to_string(version) +
                                  " is newer than this llada-eval understands (" +
                                  std::to_string(CurrentSchemaVersion()) + "); upgrade llada-eval");
    if (version == CurrentSchemaVersion()) return;
    if (version == 0) {
      // A fresh file, or someone else's database: refuse to add tables to a
      // database that already holds unrelated ones.
      Statement tables(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", path_);
      tables.Step();
      if (tables.Int(0) != 0)
        throw UserError::InFile(path_, "--db", "is an SQLite database but not an llada-eval result store");
    }
    Exec(kMigrations[version]);
    Exec("PRAGMA user_version = " + std::to_string(version + 1));
    transaction.Commit();
  }
}

void Store::PutSpeed(int64_t run_id, const std::string& task, const nlohmann::json& summary) {
  Statement insert(db_, "INSERT OR REPLACE INTO speed (run_id, task, summary) VALUES (?, ?, ?)", path_);
  insert.Bind(1, run_id).Bind(2, task).Bind(3, summary.dump()).Run();
}

std::map<std::string, nlohmann::json> Store::LoadSpeed(int64_t run_id) {
  Statement select(db_, "SELECT task, summary FROM speed WHERE run_id = ? ORDER BY task", path_);
  select.Bind(1, run_id);
  std::map<std::string, nlohmann::json> speeds;
  while (select.Step()) speeds[select.Text(0)] = nlohmann::json::parse(select.Text(1), nullptr, false);
  return speeds;
}

int64_t Store::UpsertModel(const std::string& identity, const std::string& spec, const nlohmann::json& description) {
  Statement insert(db_,
                   "INSERT INTO models (identity, spec, description, created_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(identity) DO NOTHING",
                   path_);
  insert.Bind(1, identity).Bind(2, spec).Bind(3, description.dump()).Bind(4, UtcTimestamp()).Run();
  Statement select(db_, "SELECT id FROM models WHERE identity = ?", path_);
  select.Bind(1, identity);
  if (!select.Step()) throw InternalError("model row vanished after insert");
  return select.Int(0);
}

ResumeClaim Store::ClaimResumableRun(const std::string& config_hash, const ProcessOwner& owner) {
  Transaction transaction(db_);  // find and claim as one step: two processes never claim one run
  Statement select(db_,
                   "SELECT id, status, coalesce(owner_host, ''), coalesce(owner_pid, 0), coalesce(owner_start, ''), "
                   "coalesce(strftime('%s', 'now') - strftime('%s', heartbeat_at), -1) "
                   "FROM runs WHERE config_hash = ? AND status IN ('running', 'failed') ORDER BY id DESC",
                   path_);
  select.Bind(1, config_hash);
  ResumeClaim claim;
  while (select.Step()) {
    const int64_t id = select.Int(0);
    const ProcessOwner previous{select.Text(2), select.Int(3), select.Text(4)};
    const int64_t heartbeat_age = select.Int(5);
    // A run without an owner was written before owners were recorded (or its
    // owner failed it): nobody is running it.
    const bool live = select.Text(1) == "running" && previous.pid != 0 &&
                      (previous.host == owner.host ? IsRunningHere(previous)
                                                   : heartbeat_age >= 0 && heartbeat_age < kStaleHeartbeatSeconds);
    if (live) {
      if (!claim.live_run) {
        claim.live_run = id;
        claim.live_owner = previous;
      }
      continue;
    }
    claim.run_id = id;
    break;
  }
  select.Run();
  if (claim.run_id) {
    Statement update(db_,
                     "UPDATE runs SET status = 'running', resumed_at = ?, error = NULL, owner_host = ?, owner_pid = ?, "
                     "owner_start = ?, heartbeat_at = ? WHERE id = ?",
                     path_);
    const std::string now = UtcTimestamp();
    update.Bind(1, now).Bind(2, owner.host).Bind(3, owner.pid).Bind(4, owner.start).Bind(5, now).Bind(6, *claim.run_id);
    update.Run();
  }
  transaction.Commit();
  return claim;
}

void Store::Heartbeat(int64_t run_id) {
  Statement update(db_, "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'", path_);
  update.Bind(1, UtcTimestamp()).Bind(2, run_id).Run();
}

int64_t Store::CreateRun(const RunRecord& run, const ProcessOwner& owner) {
  const std::string now = UtcTimestamp();
  Statement insert(db_,
                   "INSERT INTO runs (model_id, model_spec, tasks, preset, config, config_hash, task_hashes, "
                   "data_hashes, harness_version, git_sha, host, started_at, status, owner_host, owner_pid, "
                   "owner_start, heartbeat_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                   path_);
  insert.Bind(1, run.model_id)
      .Bind(2, run.model_spec)
      .Bind(3, run.tasks.dump())
      .Bind(4, run.preset)
      .Bind(5, run.config.dump())
      .Bind(6, run.config_hash)
      .Bind(7, run.task_hashes.dump())
      .Bind(8, run.data_hashes.dump())
      .Bind(9, run.harness_version)
      .Bind(10, run.git_sha)
      .Bind(11, run.host)
      .Bind(12, now)
      .Bind(13, owner.host)
      .Bind(14, owner.pid)
      .Bind(15, owner.start)
      .Bind(16, now)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::FinishRun(int64_t run_id, const std::string& status, const std::string& error) {
  Statement update(db_, "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?", path_);
  update.Bind(1, status).Bind(2, UtcTimestamp());
  if (error.empty())
    update.BindNull(3);
  else
    update.Bind(3, error);
  update.Bind(4, run_id).Run();
}

std::optional<RunSummary> Store::GetRun(int64_t run_id) {
  Statement select(db_,
                   "SELECT id, model_spec, status, started_at, coalesce(finished_at, ''), config_hash "
                   "FROM runs WHERE id = ?",
                   path_);
  select.Bind(1, run_id);
  if (!select.Step()) return std::nullopt;
  return RunSummary{select.Int(0), select.Text(1), select.Text(2), select.Text(3), select.Text(4), select.Text(5)};
}

std::vector<StoredRun> Store::ListRuns() {
  Statement select(db_,
                   "SELECT r.id, r.model_id, r.model_spec, r.tasks, r.preset, r.config, r.config_hash, r.task_hashes, "
                   "r.data_hashes, r.harness_version, r.git_sha, r.host, r.started_at, coalesce(r.finished_at, ''), "
                   "r.status, coalesce(r.error, ''), m.identity, m.description "
                   "FROM runs r JOIN models m ON m.id = r.model_id ORDER BY r.id",
                   path_);
  std::vector<StoredRun> runs;
  while (select.Step()) {
    StoredRun run;
    run.id = select.Int(0);
    run.record = {select.Int(1),
                  select.Text(2),
                  nlohmann::json::parse(select.Text(3)),
                  nlohmann::json::parse(select.Text(5)),
                  select.Text(6),
                  nlohmann::json::parse(select.Text(7)),
                  nlohmann::json::parse(select.Text(8)),
                  select.Text(4),
                  select.Text(9),
                  select.Text(10),
                  select.Text(11)};
    run.started_at = select.Text(12);
    run.finished_at = select.Text(13);
    run.status = select.Text(14);
    run.error = select.Text(15);
    run.model_identity = select.Text(16);
    run.model_description = nlohmann::json::parse(select.Text(17), nullptr, false);
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<std::string> Store::SampleTasks(int64_t run_id) {
  Statement select(db_, "SELECT DISTINCT task FROM samples WHERE run_id = ? ORDER BY task", path_);
  select.Bind(1, run_id);
  std::vector<std::string> tasks;
  while (select.Step()) tasks.push_back(select.Text(0));
  return tasks;
}

std::map<std::string, nlohmann::json> Store::LookupRequests(const std::vector<std::string>& keys) {
  return LookupCacheColumn("request", keys);
}

std::map<std::string, nlohmann::json> Store::LookupResponses(const std::vector<std::string>& keys) {
  return LookupCacheColumn("response", keys);
}

std::map<std::string, nlohmann::json> Store::LookupCacheColumn(const std::string& column,
                                                               const std::vector<std::string>& keys) {
  std::map<std::string, nlohmann::json> found;
  Statement select(db_, "SELECT " + column + " FROM request_cache WHERE key = ?", path_);
  for (const auto& key : keys) {
    select.Bind(1, key);
    if (select.Step()) found[key] = nlohmann::json::parse(select.Text(0));
    select.Run();  // reset for the next key
  }
  return found;
}

void Store::PutResponses(const std::vector<CacheEntry>& entries, int64_t model_id) {
  Transaction transaction(db_);
  Statement insert(db_,
                   "INSERT OR REPLACE INTO request_cache (key, model_id, request_type, request, response, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   path_);
  const std::string now = UtcTimestamp();
  for (const auto& entry : entries) {
    insert.Bind(1, entry.key)
        .Bind(2, model_id)
        .Bind(3, entry.request_type)
        .Bind(4, entry.request.dump())
        .Bind(5, entry.response.dump())
        .Bind(6, now)
        .Run();
  }
  transaction.Commit();
}

int64_t Store::ImportResponses(const std::filesystem::path& other) {
  Statement attach(db_, "ATTACH DATABASE ? AS other", path_);
  attach.Bind(1, other.string()).Run();
  struct Detach {
    sqlite3* db;
    ~Detach() { sqlite3_exec(db, "DETACH DATABASE other", nullptr, nullptr, nullptr); }
  } detach{db_};
  int64_t added = 0;
  {
    Transaction transaction(db_);
    Statement conflict(db_,
                       "SELECT o.key FROM other.request_cache o JOIN main.request_cache m ON m.key = o.key "
                       "WHERE json_remove(o.response, '$.cost') IS NOT json_remove(m.response, '$.cost') LIMIT 1",
                       path_);
    if (conflict.Step())
      throw UserError::InFile(other.string(), "request_cache",
                              "the response for request key " + conflict.Text(0) + " differs from the one in " + path_ +
                                  " (two stores computed one request differently: another model or setting "
                                  "under the same key?)");
    Exec(
        "INSERT OR IGNORE INTO main.models (identity, spec, description, created_at) "
        "SELECT identity, spec, description, created_at FROM other.models");
    Exec(
        "INSERT OR IGNORE INTO main.request_cache (key, model_id, request_type, request, response, created_at) "
        "SELECT o.key, m.id, o.request_type, o.request, o.response, o.created_at FROM other.request_cache o "
        "JOIN other.models om ON om.id = o.model_id JOIN main.models m ON m.identity = om.identity");
    added = sqlite3_changes(db_);
    transaction.Commit();
  }
  return added;
}

void Store::PutSamples(int64_t run_id, const std::vector<SampleRecord>& samples) {
  Transaction transaction(db_);
  Statement insert(db_,
                   "INSERT OR REPLACE INTO samples (run_id, task, doc_index, target, request_keys, responses, "
                   "filtered, metrics, error, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   path_);
  for (const auto& sample : samples) {
    insert.Bind(1, run_id)
        .Bind(2, sample.task)
        .Bind(3, sample.doc_index)
        .Bind(4, sample.target)
        .Bind(5, sample.request_keys.dump())
        .Bind(6, sample.responses.dump())
        .Bind(7, sample.filtered.dump())
        .Bind(8, sample.metrics.dump());
    if (sample.error.empty())
      insert.BindNull(9);
    else
      insert.Bind(9, sample.error);
    insert.Bind(10, sample.details.is_object() ? sample.details.dump() : std::string("{}"));
    insert.Run();
  }
  transaction.Commit();
}

std::vector<SampleRecord> Store::LoadSamples(int64_t run_id, const std::string& task) {
  Statement select(db_,
                   "SELECT task, doc_index, target, request_keys, responses, filtered, metrics, coalesce(error, ''), "
                   "details "
                   "FROM samples WHERE run_id = ? AND task = ? ORDER BY doc_index",
                   path_);
  select.Bind(1, run_id).Bind(2, task);
  std::vector<SampleRecord> samples;
  while (select.Step()) {
    SampleRecord sample;
    sample.task = select.Text(0);
    sample.doc_index = select.Int(1);
    sample.target = select.Text(2);
    sample.request_keys = nlohmann::json::parse(select.Text(3));
    sample.responses = nlohmann::json::parse(select.Text(4));
    sample.filtered = nlohmann::json::parse(select.Text(5));
    sample.metrics = nlohmann::json::parse(select.Text(6));
    sample.error = select.Text(7);
    sample.details = nlohmann::json::parse(select.Text(8));
    samples.push_back(std::move(sample));
  }
  return samples;
}

void Store::PutMetrics(int64_t run_id, const std::vector<MetricRecord>& metrics) {
  Transaction transaction(db_);
  Statement insert(db_,
                   "INSERT OR REPLACE INTO metrics (run_id, task, is_group, version, filter, metric, num_fewshot, "
                   "value, stderr, n, higher_is_better) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   path_);
  for (const auto& m : metrics) {
    insert.Bind(1, run_id)
        .Bind(2, m.task)
        .Bind(3, static_cast<int64_t>(m.is_group))
        .Bind(4, static_cast<int64_t>(m.version))
        .Bind(5, m.filter)
        .Bind(6, m.metric)
        .Bind(7, static_cast<int64_t>(m.num_fewshot))
        .Bind(8, m.value);
    if (m.stderr_value)
      insert.Bind(9, *m.stderr_value);
    else
      insert.BindNull(9);
    insert.Bind(10, m.n).Bind(11, static_cast<int64_t>(m.higher_is_better)).Run();
  }
  transaction.Commit();
}

std::vector<MetricRecord> Store::LoadMetrics(int64_t run_id) {
  Statement select(db_,
                   "SELECT task, is_group, version, filter, metric, num_fewshot, value, stderr, n, higher_is_better "
                   "FROM metrics WHERE run_id = ? ORDER BY task, filter, metric",
                   path_);
  select.Bind(1, run_id);
  std::vector<MetricRecord> metrics;
  while (select.Step()) {
    MetricRecord m;
    m.task = select.Text(0);
    m.is_group = select.Int(1) != 0;
    m.version = static_cast<int>(select.Int(2));
    m.filter = select.Text(3);
    m.metric = select.Text(4);
    m.num_fewshot = static_cast<int>(select.Int(5));
    m.value = select.Double(6);
    if (!select.IsNull(7)) m.stderr_value = select.Double(7);
    m.n = select.Int(8);
    m.higher_is_better = select.Int(9) != 0;
    metrics.push_back(m);
  }
  return metrics;
}

int64_t Store::CountRows(const std::string& table) {
  if (table != "models" && table != "runs" && table != "request_cache" && table != "samples" && table != "metrics")
    throw InternalError("CountRows: unknown table " + table);
  Statement select(db_, "SELECT count(*) FROM " + table, path_);
  select.Step();
  return select.Int(0);
}

}  // namespace llada
