// The SQLite store: schema, migrations, durability, refusal of foreign files.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/errors.h"
#include "tests/test_util.h"

namespace llada {
namespace {

RunRecord SomeRun(int64_t model_id, const std::string& hash) {
  RunRecord run;
  run.model_id = model_id;
  run.model_spec = "replay:x.jsonl";
  run.tasks = {"gsm8k"};
  run.config = {{"a", 1}};
  run.config_hash = hash;
  run.task_hashes = nlohmann::json::object();
  run.data_hashes = nlohmann::json::object();
  return run;
}

TEST(StoreTest, CreatesSchemaAndPersistsAcrossReopen) {
  testing::TempDir dir;
  const auto path = dir.path() / "s.db";
  {
    auto store = Store::Open(path);
    EXPECT_EQ(store->SchemaVersion(), Store::CurrentSchemaVersion());
    const int64_t model = store->UpsertModel("m1", "replay:x", {{"k", 1}});
    EXPECT_EQ(store->UpsertModel("m1", "replay:x", {{"k", 1}}), model);
    const int64_t run = store->CreateRun(SomeRun(model, "h1"), CurrentProcess());
    store->PutResponses({{"key1", "generate_until", {{"context", "c"}}, {{"text", "out"}}}}, model);
    store->PutSamples(
        run, {{"gsm8k", 0, "t", {"key1"}, {"out"}, {{"strict-match", "1"}}, {{"exact_match,strict-match", 1.0}}, ""}});
    store->PutSamples(
        run, {{"gsm8k", 0, "t", {"key1"}, {"out"}, {{"strict-match", "1"}}, {{"exact_match,strict-match", 1.0}}, ""}});
    // Its owner (this process) is alive: never taken over.
    ResumeClaim claim = store->ClaimResumableRun("h1", CurrentProcess());
    EXPECT_FALSE(claim.run_id.has_value());
    EXPECT_EQ(claim.live_run, run);
    store->FinishRun(run, "failed", "boom");
    EXPECT_EQ(store->ClaimResumableRun("h1", CurrentProcess()).run_id, run);  // a failed run is anyone's
    store->FinishRun(run, "finished");
    EXPECT_FALSE(store->ClaimResumableRun("h1", CurrentProcess()).run_id.has_value());
  }
  auto store = Store::Open(path);
  EXPECT_EQ(store->CountRows("samples"), 1);  // the second PutSamples replaced, not duplicated
  const auto cached = store->LookupResponses({"key1", "missing"});
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached.at("key1").at("text"), "out");
  EXPECT_EQ(store->GetRun(1)->status, "finished");
}

// A store with one run (id 1) and one gsm8k sample, then `downgrade` (SQL)
// run on the file: an older schema version, as an older llada-eval left it.
std::filesystem::path OldStore(const testing::TempDir& dir, const std::string& name, const std::string& downgrade) {
  const auto path = dir.path() / name;
  {
    auto store = Store::Open(path);
    const int64_t run = store->CreateRun(SomeRun(store->UpsertModel("m1", "replay:x", {}), "h1"), CurrentProcess());
    store->PutSamples(run, {{"gsm8k", 0, "t", {"key1"}, {"out"}, {{"none", "1"}}, {{"exact_match,none", 1.0}}, ""}});
  }
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, downgrade.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  return path;
}

// A version-1 file (before samples.details) is upgraded on open and keeps its rows.
TEST(StoreTest, UpgradesAVersionOneFile) {
  testing::TempDir dir;
  const auto path = OldStore(dir, "v1.db",
                             "ALTER TABLE samples DROP COLUMN details; ALTER TABLE runs DROP COLUMN owner_host; "
                             "ALTER TABLE runs DROP COLUMN owner_pid; ALTER TABLE runs DROP COLUMN owner_start; "
                             "ALTER TABLE runs DROP COLUMN heartbeat_at; DROP TABLE speed; PRAGMA user_version = 1;");
  auto store = Store::Open(path);
  EXPECT_EQ(store->SchemaVersion(), Store::CurrentSchemaVersion());
  EXPECT_GE(Store::CurrentSchemaVersion(), 2);
  auto old_rows = store->LoadSamples(1, "gsm8k");
  ASSERT_EQ(old_rows.size(), 1u);
  EXPECT_EQ(old_rows[0].details, nlohmann::json::object());
  SampleRecord with_details{
      "humaneval", 0, "t", {"k"}, {"out"}, {{"create_test", "prog"}}, {{"pass@1,create_test", 0.0}}, ""};
  with_details.details = {{"pass@1,create_test", {{"verdict", "TIMEOUT"}}}};
  store->PutSamples(1, {with_details});
  EXPECT_EQ(store->LoadSamples(1, "humaneval").at(0).details["pass@1,create_test"]["verdict"], "TIMEOUT");
  // The run written before owners were recorded has none: a dead run, resumable.
  EXPECT_EQ(store->ClaimResumableRun("h1", CurrentProcess()).run_id, 1);
  // Version 4's speed table: empty for the old run, then written and read back.
  EXPECT_TRUE(store->LoadSpeed(1).empty());
  store->PutSpeed(1, "gsm8k", {{"forward_calls", 512}, {"tokens_per_second", 3.5}});
  EXPECT_EQ(store->LoadSpeed(1).at("gsm8k").at("forward_calls"), 512);
}

// A version-3 file (the last before the speed table) opens, upgrades and
// keeps its runs and samples.
TEST(StoreTest, UpgradesAVersionThreeFile) {
  testing::TempDir dir;
  const auto path = OldStore(dir, "v3.db", "DROP TABLE speed; PRAGMA user_version = 3;");
  auto store = Store::Open(path);
  EXPECT_EQ(store->SchemaVersion(), Store::CurrentSchemaVersion());
  EXPECT_EQ(store->LoadSamples(1, "gsm8k").size(), 1u);
  store->PutSpeed(1, "gsm8k", {{"requests", 1}});
  EXPECT_EQ(store->LoadSpeed(1).at("gsm8k").at("requests"), 1);
}

// A run's owner that is gone (a killed process: same host, its pid no longer
// that process) or silent for long on another host no longer holds the run;
// one whose heartbeat is fresh on another host does.
TEST(StoreTest, ClaimsOnlyRunsWhoseOwnerIsGone) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path() / "owners.db");
  const int64_t model = store->UpsertModel("m1", "replay:x", {});
  ProcessOwner dead = CurrentProcess();
  dead.start += "-earlier";  // this pid, but another process: the pid was reused
  const int64_t killed = store->CreateRun(SomeRun(model, "dead"), dead);
  EXPECT_EQ(store->ClaimResumableRun("dead", CurrentProcess()).run_id, killed);

  ProcessOwner elsewhere{"another-host", 4242, "boot/1"};
  const int64_t remote = store->CreateRun(SomeRun(model, "remote"), elsewhere);
  const ResumeClaim fresh = store->ClaimResumableRun("remote", CurrentProcess());
  EXPECT_FALSE(fresh.run_id.has_value());
  EXPECT_EQ(fresh.live_run, remote);
  EXPECT_EQ(fresh.live_owner.host, "another-host");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "owners.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE runs SET heartbeat_at = '2020-01-01T00:00:00Z' WHERE config_hash = 'remote'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(store->ClaimResumableRun("remote", CurrentProcess()).run_id, remote);
}

TEST(StoreTest, RefusesFilesThatAreNotOurStore) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "text.db", "this is not sqlite at all, just some words to fill a page......");
  EXPECT_THROW(Store::Open(dir.path() / "text.db"), UserError);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "other.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE customers (id INTEGER)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    Store::Open(dir.path() / "other.db");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("not an llada-eval result store"), std::string::npos) << e.what();
  }

  ASSERT_EQ(sqlite3_open((dir.path() / "future.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_THROW(Store::Open(dir.path() / "future.db"), UserError);
}

TEST(StoreTest, UsesWriteAheadLogging) {
  testing::TempDir dir;
  { auto store = Store::Open(dir.path() / "w.db"); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "w.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace
}  // namespace llada
