// Sharded runs (`run --shard I/N`) folded by `merge`, against the same run in
// one process, on a real checkpoint and real benchmark documents.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <regex>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "harness/evaluator.h"
#include "store/store.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::Describe;
using testing::ReadFile;
using testing::ReadLines;
using testing::RunCli;
using testing::SharedDir;

// "<n> requests are this shard's" in a shard run's report.
size_t ShardRequests(const std::string& err) {
  std::smatch match;
  if (!std::regex_search(err, match, std::regex("(\\d+) requests are this shard's"))) return SIZE_MAX;
  return std::stoul(match[1]);
}

class ShardTest : public ::testing::Test {
 protected:
  std::vector<std::string> RunArgs(const std::string& label, const std::string& tasks, const std::string& model_args,
                                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run",         "--model",
                                     (SharedDir() / "models" / "mini-llada-llama2").string(),
                                     "--tasks",     tasks,
                                     "--shots",     "0",
                                     "--limit",     "4",
                                     "--data-dir",  (SharedDir() / "data").string(),
                                     "--model-args", model_args,
                                     "--output",    (tmp_.path() / label).string(),
                                     "--log-samples"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Runs every shard of `count` into one directory; returns the requests
  // each took.
  std::vector<size_t> RunShards(const std::string& label, int count, const std::string& tasks,
                                const std::string& model_args) {
    std::vector<size_t> taken;
    for (int index = 0; index < count; ++index) {
      const auto shard =
          RunCli(RunArgs(label, tasks, model_args, {"--shard", std::to_string(index) + "/" + std::to_string(count)}));
      EXPECT_EQ(shard.exit_code, 0) << Describe(shard);
      taken.push_back(ShardRequests(shard.err));
    }
    return taken;
  }

  std::vector<std::string> ShardStores(const std::string& label, int count) {
    std::vector<std::string> stores;
    for (int index = 0; index < count; ++index)
      stores.push_back((tmp_.path() / label / ShardStoreName({index, count})).string());
    return stores;
  }

  testing::CliResult Merge(const std::vector<std::string>& stores, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"merge"};
    args.insert(args.end(), stores.begin(), stores.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(args);
  }

  testing::TempDir tmp_;
};

// LLaDA: Monte-Carlo likelihoods (ARC-Challenge) and diffusion generation
// (GSM8K); N = 1, 2, 3 and 5 (more shards than some tasks' requests split
// evenly into). One shard of three is killed midway and run again alone.
TEST_F(ShardTest, MergedShardsEqualTheOneProcessRun) {
  LLADA_REQUIRE_SHARED();
  const std::string tasks = "arc_challenge,gsm8k";
  const std::string settings = "mc_num=8,gen_length=16,steps=8,block_length=16";
  const auto one = RunCli(RunArgs("one", tasks, settings));
  ASSERT_EQ(one.exit_code, 0) << Describe(one);
  std::smatch computed;
  ASSERT_TRUE(std::regex_search(one.err, computed, std::regex("(\\d+) responses computed"))) << one.err;
  const size_t total = std::stoul(computed[1]);
  const testing::RunNumbers expected = testing::ReadRunNumbers(tmp_.path() / "one");
  ASSERT_EQ(expected.samples.size(), 2u);

  for (int count : {1, 2, 3, 5}) {
    const std::string label = "shards" + std::to_string(count);
    std::vector<size_t> taken;
    if (count == 3) {
      // Shard 1 dies after its first committed batch; the merge refuses until it is run again.
      for (int index : {0, 2}) {
        const auto shard = RunCli(RunArgs(label, tasks, settings, {"--shard", std::to_string(index) + "/3"}));
        ASSERT_EQ(shard.exit_code, 0) << Describe(shard);
        taken.push_back(ShardRequests(shard.err));
      }
      CliHooks die;
      die.after_commit = [](size_t committed) {
        if (committed >= 1) ::raise(SIGKILL);
      };
      const auto killed = testing::RunCliInChild(RunArgs(label, tasks, settings, {"--shard", "1/3"}), die);
      ASSERT_EQ(killed.signal, SIGKILL) << Describe(killed);
      const auto refused = Merge(ShardStores(label, 3));
      EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
      EXPECT_NE(refused.err.find("shard 1/3 did not finish"), std::string::npos) << refused.err;
      const auto rerun = RunCli(RunArgs(label, tasks, settings, {"--shard", "1/3"}));
      ASSERT_EQ(rerun.exit_code, 0) << Describe(rerun);
      EXPECT_NE(rerun.err.find("(resumed)"), std::string::npos) << rerun.err;
      taken.push_back(ShardRequests(rerun.err));
    } else {
      taken = RunShards(label, count, tasks, settings);
    }
    // The shards partition the requests: their counts add up to the run's,
    // and the merge finds every response (below), so none is in two.
    size_t sum = 0;
    for (size_t n : taken) sum += n;
    EXPECT_EQ(sum, total) << count << " shards";
    const auto merged = Merge(ShardStores(label, count), {"--output", (tmp_.path() / (label + "-merged")).string()});
    ASSERT_EQ(merged.exit_code, 0) << Describe(merged);
    const testing::RunNumbers outcome = testing::ReadRunNumbers(tmp_.path() / (label + "-merged"));
    EXPECT_EQ(outcome.metrics, expected.metrics) << count << " shards";
    EXPECT_EQ(outcome.samples, expected.samples) << count << " shards";
  }

  // A second merge adds nothing and scores the same.
  const auto again = Merge(ShardStores("shards2", 2), {"--output", (tmp_.path() / "shards2-merged").string()});
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(testing::CountOccurrences(again.err, ": 0 responses added"), 2) << again.err;
  EXPECT_TRUE(testing::ContainsCount(again.err, "0 responses computed")) << again.err;
  EXPECT_EQ(testing::ReadRunNumbers(tmp_.path() / "shards2-merged").metrics, expected.metrics);
}

// Adaptive Monte-Carlo: a document's choices decide together, so a document
// is never split across shards.
TEST_F(ShardTest, AdaptiveDocumentsStayWhole) {
  LLADA_REQUIRE_SHARED();
  const std::string settings = "mc_num=32,mc_batch_size=8,mc_adaptive=true";
  const auto one = RunCli(RunArgs("one", "arc_challenge", settings));
  ASSERT_EQ(one.exit_code, 0) << Describe(one);
  const auto taken = RunShards("shards", 3, "arc_challenge", settings);
  EXPECT_GE(std::count_if(taken.begin(), taken.end(), [](size_t n) { return n > 0; }), 2) << "one shard took all";
  const auto merged = Merge(ShardStores("shards", 3), {"--output", (tmp_.path() / "merged").string()});
  ASSERT_EQ(merged.exit_code, 0) << Describe(merged);
  const testing::RunNumbers expected = testing::ReadRunNumbers(tmp_.path() / "one"),
                            outcome = testing::ReadRunNumbers(tmp_.path() / "merged");
  EXPECT_EQ(outcome.metrics, expected.metrics);
  EXPECT_EQ(outcome.samples, expected.samples);
}

// `run --workers N`: the shards in N processes, merged at the end; a worker
// killed midway is named with the command that reruns it alone, and that
// command and `merge` complete the run.
TEST_F(ShardTest, WorkersShareARunAndADeadOneIsRerunAlone) {
  LLADA_REQUIRE_SHARED();
  const std::string tasks = "arc_challenge,gsm8k";
  const std::string settings = "mc_num=8,gen_length=16,steps=8,block_length=16";
  const auto one = RunCli(RunArgs("one", tasks, settings));
  ASSERT_EQ(one.exit_code, 0) << Describe(one);
  const testing::RunNumbers expected = testing::ReadRunNumbers(tmp_.path() / "one");
  const auto two = RunCli(RunArgs("two", tasks, settings, {"--workers", "2"}));
  ASSERT_EQ(two.exit_code, 0) << Describe(two);
  EXPECT_NE(two.err.find("2 workers"), std::string::npos) << two.err;
  const testing::RunNumbers outcome = testing::ReadRunNumbers(tmp_.path() / "two");
  EXPECT_EQ(outcome.metrics, expected.metrics);
  EXPECT_EQ(outcome.samples, expected.samples);

  // Worker 1 of 2 is killed once it has stored a response.
  const std::string slower = "mc_num=64,gen_length=64,steps=64,block_length=64";
  const std::string out = (tmp_.path() / "killed").string();
  const auto store_of_1 = tmp_.path() / "killed" / ShardStoreName({1, 2});
  std::atomic<bool> finished{false};
  testing::CliResult parent;
  std::thread run([&] {
    parent = RunCli(RunArgs("killed", tasks, slower, {"--workers", "2"}));
    finished = true;
  });
  auto stored_one = [&] {
    try {
      return std::filesystem::exists(store_of_1) && Store::Open(store_of_1)->CountRows("request_cache") > 0;
    } catch (const Error&) {
      return false;
    }
  };
  bool killed = false;
  while (!finished && !killed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!stored_one()) continue;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::string cmdline;
      try {
        cmdline = ReadFile(entry.path() / "cmdline");
      } catch (...) {
        continue;
      }
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (cmdline.find(out) != std::string::npos && cmdline.find("--shard 1/2") != std::string::npos) {
        killed = ::kill(std::stoi(entry.path().filename().string()), SIGKILL) == 0;
        break;
      }
    }
  }
  run.join();
  ASSERT_TRUE(killed) << "worker 1/2 finished before it could be killed: " << Describe(parent);
  EXPECT_EQ(parent.exit_code, 3) << Describe(parent);
  EXPECT_NE(parent.err.find("worker 1/2 was killed"), std::string::npos) << parent.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_.path() / "killed" / ShardStoreName({0, 2})));
  // The printed commands: rerun worker 1 alone, then merge.
  std::smatch rerun;
  ASSERT_TRUE(std::regex_search(parent.err, rerun, std::regex("\\n  \\S+llada-eval (run [^\\n]*--shard 1/2[^\\n]*)\\n")))
      << parent.err;
  std::vector<std::string> args;
  std::istringstream words(rerun[1].str());
  for (std::string word; words >> word;) args.push_back(word);
  const auto rerun_alone = RunCli(args);
  ASSERT_EQ(rerun_alone.exit_code, 0) << Describe(rerun_alone);
  EXPECT_NE(rerun_alone.err.find("(resumed)"), std::string::npos) << rerun_alone.err;
  const auto merged = Merge(ShardStores("killed", 2));
  ASSERT_EQ(merged.exit_code, 0) << Describe(merged);
  const auto slower_one = RunCli(RunArgs("slower-one", tasks, slower));
  ASSERT_EQ(slower_one.exit_code, 0) << Describe(slower_one);
  EXPECT_EQ(testing::ReadRunNumbers(tmp_.path() / "killed").metrics,
            testing::ReadRunNumbers(tmp_.path() / "slower-one").metrics);
  EXPECT_EQ(testing::ReadRunNumbers(tmp_.path() / "killed").samples,
            testing::ReadRunNumbers(tmp_.path() / "slower-one").samples);
}

TEST_F(ShardTest, MismatchedMissingAndConflictingShardsAreRefused) {
  LLADA_REQUIRE_SHARED();
  const std::string tasks = "arc_challenge";
  const std::string settings = "mc_num=4";
  // Another setting in one shard: refused, naming the field.
  ASSERT_EQ(RunCli(RunArgs("mixed", tasks, settings, {"--shard", "0/2"})).exit_code, 0);
  ASSERT_EQ(RunCli(RunArgs("mixed", tasks, "mc_num=8", {"--shard", "1/2"})).exit_code, 0);
  const auto mixed = Merge(ShardStores("mixed", 2));
  EXPECT_EQ(mixed.exit_code, 2) << Describe(mixed);
  EXPECT_NE(mixed.err.find("model_args/mc_num"), std::string::npos) << mixed.err;

  // A missing shard: named with the store it should be in; --partial merges
  // the rest, and the documents of the missing one fail.
  const auto taken = RunShards("partial", 2, tasks, settings);
  ASSERT_GT(taken[1], 0u) << "shard 1/2 holds none of the documents: nothing would be missing";
  std::vector<std::string> stores = ShardStores("partial", 2);
  std::filesystem::remove(stores[1]);
  stores.pop_back();
  const auto missing = Merge(stores);
  EXPECT_EQ(missing.exit_code, 2) << Describe(missing);
  EXPECT_NE(missing.err.find("shard 1/2 is missing"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find(ShardStoreName({1, 2})), std::string::npos) << missing.err;
  const auto partial = Merge(stores, {"--partial"});
  EXPECT_EQ(partial.exit_code, 4) << Describe(partial);
  EXPECT_NE(partial.err.find("documents failed"), std::string::npos) << partial.err;
  const auto results = nlohmann::json::parse(ReadFile(testing::LatestResults(tmp_.path() / "partial")));
  EXPECT_EQ(results["config"]["partial"]["missing_shards"], nlohmann::json::array({1})) << results["config"];

  // A store that answered one of the shard's requests differently: refused, naming the key.
  RunShards("conflict", 2, tasks, settings);
  const std::string first_shard = ShardStores("conflict", 2)[0];
  std::string key, response;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(first_shard.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* select = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT key, response FROM request_cache LIMIT 1", -1, &select, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(select), SQLITE_ROW);
    key = reinterpret_cast<const char*>(sqlite3_column_text(select, 0));
    response = reinterpret_cast<const char*>(sqlite3_column_text(select, 1));
    sqlite3_finalize(select);
    sqlite3_close(db);
  }
  {
    auto merged = Store::Open(tmp_.path() / "conflict" / "llada-eval.db");
    auto answer = nlohmann::json::parse(response);
    answer["loglikelihood"] = answer["loglikelihood"].get<double>() - 1.0;
    merged->PutResponses({{key, "loglikelihood", nlohmann::json::object(), answer}},
                         merged->UpsertModel("another model", "elsewhere", nlohmann::json::object()));
  }
  const auto conflict = Merge(ShardStores("conflict", 2));
  EXPECT_EQ(conflict.exit_code, 2) << Describe(conflict);
  EXPECT_NE(conflict.err.find(key), std::string::npos) << conflict.err;
  EXPECT_NE(conflict.err.find(first_shard), std::string::npos) << conflict.err;

  // Bad --shard values and absent stores.
  const auto bad = RunCli(RunArgs("bad", tasks, settings, {"--shard", "3/3"}));
  EXPECT_EQ(bad.exit_code, 2) << Describe(bad);
  EXPECT_NE(bad.err.find("--shard"), std::string::npos) << bad.err;
  const auto absent = Merge({(tmp_.path() / "nowhere.db").string()});
  EXPECT_EQ(absent.exit_code, 2) << Describe(absent);
  EXPECT_NE(absent.err.find("nowhere.db"), std::string::npos) << absent.err;
}

}  // namespace
}  // namespace llada
