// End-to-end: the llada-eval binary as a user runs it, on the real benchmark
// files (../shared/data) and on the samples that ship with the project.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <boost/process/search_path.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "harness/evaluator.h"
#include "store/store.h"
#include "tasks/loaders.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::CliResult;
using testing::LatestResults;
using testing::ReadFile;
using testing::ReadLines;
using testing::RunCli;
using testing::RunCliInChild;
using testing::SharedDir;
using testing::SourceDir;
using testing::TempDir;
using testing::WriteFile;

using testing::Describe;

int CountLines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// Replay lines answering every request: gold=true the gold answer wins, else a wrong one.
std::string MakeReplay(const std::string& requests_jsonl, const std::filesystem::path& data, bool gold) {
  return testing::ReplayAnswering(requests_jsonl, data, [gold](const std::string&, size_t) { return gold; });
}

class CliTest : public ::testing::Test {
 protected:
  std::filesystem::path SampleData() const { return SourceDir() / "samples" / "data"; }
  std::vector<std::string> QuickstartArgs(const std::filesystem::path& out) const {
    return {"run",
            "--tasks",
            "mmlu_astronomy,mmlu_high_school_mathematics,gsm8k",
            "--data-dir",
            SampleData().string(),
            "--model",
            "replay:" + (SourceDir() / "samples/replay/quickstart.jsonl").string(),
            "--output",
            out.string()};
  }
  TempDir tmp_;
};

TEST_F(CliTest, QuickstartPrintsATableAndWritesStoreResultsAndSamples) {
  auto args = QuickstartArgs(tmp_.path() / "out");
  args.push_back("--log-samples");
  const CliResult r = RunCli(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("|mmlu_astronomy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flexible-extract"), std::string::npos) << r.out;

  const auto results = nlohmann::json::parse(ReadFile(LatestResults(tmp_.path() / "out")));
  // The hand-written replay answers 3/4 astronomy and 3/4 math questions, and
  // 2 (strict) / 3 (flexible) of the 4 GSM8K questions correctly.
  EXPECT_DOUBLE_EQ(results["results"]["mmlu_astronomy"]["acc,none"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(results["results"]["gsm8k"]["exact_match,strict-match"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(results["results"]["gsm8k"]["exact_match,flexible-extract"].get<double>(), 0.75);
  EXPECT_TRUE(results["results"]["gsm8k"].contains("exact_match_stderr,strict-match"));
  EXPECT_EQ(results["versions"]["gsm8k"], 3);
  EXPECT_EQ(results["n-shot"]["gsm8k"], 5);
  EXPECT_EQ(results["n-samples"]["gsm8k"]["effective"], 4);
  EXPECT_EQ(results["configs"]["gsm8k"]["doc_to_text"], "Question: {{question}}\nAnswer:");

  const auto samples = ReadLines(tmp_.path() / "out" / "samples_gsm8k.jsonl");
  ASSERT_EQ(samples.size(), 4u);
  const auto first = nlohmann::json::parse(samples[0]);
  for (const char* key : {"task", "doc_index", "target", "responses", "filtered", "metrics"})
    EXPECT_TRUE(first.contains(key)) << key;
  EXPECT_EQ(first["filtered"]["strict-match"], "14");
  EXPECT_EQ(first["metrics"]["exact_match,strict-match"], 1.0);
  const auto mmlu = nlohmann::json::parse(ReadLines(tmp_.path() / "out" / "samples_mmlu_astronomy.jsonl")[0]);
  EXPECT_EQ(mmlu["filtered"]["none"], "B");
  EXPECT_EQ(mmlu["metrics"]["acc,none"], 1.0);
}

TEST_F(CliTest, SecondRunIsServedFromTheRequestCache) {
  ASSERT_EQ(RunCli(QuickstartArgs(tmp_.path() / "out")).exit_code, 0);
  const CliResult again = RunCli(QuickstartArgs(tmp_.path() / "out"));
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_TRUE(testing::ContainsCount(again.err, "0 responses computed, 36 from cache")) << again.err;
  auto store = Store::Open(tmp_.path() / "out" / "llada-eval.db");
  EXPECT_EQ(store->CountRows("runs"), 2);
  EXPECT_EQ(store->CountRows("request_cache"), 36);
}

TEST_F(CliTest, RequestsPrintsJsonlWithTheDocumentedKeys) {
  const CliResult r = RunCli({"requests", "--tasks", "gsm8k", "--data-dir", SampleData().string(), "--limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(CountLines(r.out), 2);
  const auto line = nlohmann::ordered_json::parse(r.out.substr(0, r.out.find('\n')));
  std::vector<std::string> keys;
  for (const auto& item : line.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"task", "doc_index", "request_index", "request_type", "context", "until",
                                            "max_gen_toks"}));
  const CliResult range = RunCli({"requests", "--tasks", "mmlu_astronomy", "--data-dir", SampleData().string(),
                                  "--doc-range", "1:3", "--shots", "0"});
  ASSERT_EQ(range.exit_code, 0) << Describe(range);
  EXPECT_EQ(CountLines(range.out), 8);  // 2 documents x 4 choices
  EXPECT_NE(range.out.find("\"doc_index\":1"), std::string::npos);
  EXPECT_EQ(range.out.find("\"doc_index\":0"), std::string::npos);
}

TEST_F(CliTest, TasksListsGroupsAliasesAndDataFiles) {
  const CliResult r = RunCli({"tasks", "--data-dir", SampleData().string()});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("mmlu  (4 subtasks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gsm8k  generate_until  shots=5  aliases=gsm8k-5shot"), std::string::npos);
  EXPECT_NE(r.out.find("mmlu/test/astronomy_test.csv  [found]"), std::string::npos);
  EXPECT_NE(r.out.find("mmlu/test/anatomy_test.csv  [MISSING]"), std::string::npos);
}

// Gold answers score 1.0 and wrong ones 0.0 on the full real test splits.
TEST_F(CliTest, ReplayingGoldScoresOneAndWrongScoresZeroOnRealTestSplits) {
  LLADA_REQUIRE_SHARED();
  const auto data = SharedDir() / "data";
  const CliResult requests = RunCli({"requests", "--tasks", "mmlu,gsm8k", "--data-dir", data.string()});
  ASSERT_EQ(requests.exit_code, 0) << requests.err;
  ASSERT_EQ(CountLines(requests.out), 14042 * 4 + 1319);  // every MMLU test question, every GSM8K one
  for (bool gold : {true, false}) {
    const auto replay = tmp_.path() / (gold ? "gold.jsonl" : "wrong.jsonl");
    WriteFile(replay, MakeReplay(requests.out, data, gold));
    const auto out = tmp_.path() / (gold ? "gold" : "wrong");
    const CliResult r = RunCli({"--tasks", "mmlu,gsm8k", "--data-dir", data.string(), "--model",
                                "replay:" + replay.string(), "--output", out.string(), "--batch-size", "512"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    const auto results = nlohmann::json::parse(ReadFile(LatestResults(out)))["results"];
    const double expected = gold ? 1.0 : 0.0;
    EXPECT_EQ(results["mmlu"]["acc,none"].get<double>(), expected);
    EXPECT_EQ(results["mmlu_stem"]["acc,none"].get<double>(), expected);
    EXPECT_EQ(results["mmlu_professional_law"]["acc,none"].get<double>(), expected);
    EXPECT_EQ(results["gsm8k"]["exact_match,strict-match"].get<double>(), expected);
    EXPECT_EQ(results["gsm8k"]["exact_match,flexible-extract"].get<double>(), expected);
  }
}

// Groups over subtasks of unequal size, by hand: documents 95-124 of every MMLU
// subject (5 for the subjects of 100 questions, 30 for those of 125 or more,
// sizes between for the others), the even-numbered ones answered right. Each category is the
// size-weighted mean of its subjects with lm-eval's pooled_sample_stderr, and
// mmlu the same over the four categories (their pooled stderrs and sizes).
TEST_F(CliTest, GroupsWeightSubtasksBySizeAndPoolTheirStderrs) {
  LLADA_REQUIRE_SHARED();
  const auto data = SharedDir() / "data";
  const std::vector<std::string> selection = {"--tasks", "mmlu", "--data-dir", data.string(), "--doc-range", "95:125"};
  auto args = selection;
  args.insert(args.begin(), "requests");
  const CliResult requests = RunCli(args);
  ASSERT_EQ(requests.exit_code, 0) << requests.err;
  const auto replay = tmp_.path() / "replay.jsonl";
  WriteFile(replay,
            testing::ReplayAnswering(requests.out, data, [](const std::string&, size_t doc) { return doc % 2 == 0; }));
  args = selection;
  for (const std::string& extra :
       std::vector<std::string>{"--model", "replay:" + replay.string(), "--output", (tmp_.path() / "out").string()})
    args.push_back(extra);
  const CliResult run = RunCli(args);
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  const auto results = nlohmann::json::parse(ReadFile(LatestResults(tmp_.path() / "out")))["results"];

  struct Part {
    double correct, size, stderr_value;
  };
  auto mean_stderr = [](double correct, double size) {  // sample standard deviation (n - 1) / sqrt(n)
    return std::sqrt(correct * (size - correct) / (size * (size - 1)) / size);
  };
  auto pooled = [](const std::vector<Part>& parts) {  // lm-eval's pooled_sample_stderr
    double numerator = 0, total = 0;
    for (const auto& p : parts) {
      numerator += (p.size - 1) * p.stderr_value * p.stderr_value * p.size;
      total += p.size;
    }
    return std::sqrt(numerator / (total - static_cast<double>(parts.size())) / total);
  };
  auto sum = [](const std::vector<Part>& parts, double Part::*field) {
    double total = 0;
    for (const auto& p : parts) total += p.*field;
    return total;
  };
  const auto mmlu_config = nlohmann::json::parse(ReadFile(SourceDir() / "configs" / "tasks" / "mmlu.json"));
  std::map<std::string, std::vector<Part>> categories;
  std::set<double> subject_sizes;
  for (const auto& member : mmlu_config.at("members")) {
    const std::string subject = member.at("subject");
    const size_t rows = ParseCsv(ReadInputFile(data / "mmlu" / "test" / (subject + "_test.csv")), subject).size();
    const size_t end = std::min<size_t>(125, rows);
    double correct = 0;
    for (size_t doc = 95; doc < end; ++doc) correct += doc % 2 == 0;
    const double size = static_cast<double>(end - 95);
    const Part part{correct, size, mean_stderr(correct, size)};
    const std::string name = "mmlu_" + subject;
    EXPECT_DOUBLE_EQ(results[name]["acc,none"].get<double>(), correct / size) << name;
    EXPECT_NEAR(results[name]["acc_stderr,none"].get<double>(), part.stderr_value, 1e-12) << name;
    categories[member.at("category")].push_back(part);
    subject_sizes.insert(size);
  }
  ASSERT_EQ(subject_sizes, (std::set<double>{5, 7, 8, 13, 15, 17, 19, 26, 30}));  // subjects of 100 to 125+ questions
  std::vector<Part> category_parts;
  for (const auto& [category, parts] : categories) {
    const Part part{sum(parts, &Part::correct), sum(parts, &Part::size), pooled(parts)};
    const std::string name = "mmlu_" + category;
    EXPECT_NEAR(results[name]["acc,none"].get<double>(), part.correct / part.size, 1e-12) << name;
    EXPECT_NEAR(results[name]["acc_stderr,none"].get<double>(), part.stderr_value, 1e-12) << name;
    category_parts.push_back(part);
  }
  const double correct = sum(category_parts, &Part::correct), size = sum(category_parts, &Part::size);
  EXPECT_NEAR(results["mmlu"]["acc,none"].get<double>(), correct / size, 1e-12);
  EXPECT_NEAR(results["mmlu"]["acc_stderr,none"].get<double>(), pooled(category_parts), 1e-12);
  // The unweighted mean over STEM's subjects is far from the weighted one, so a
  // wrong weighting shows above.
  double unweighted = 0;
  for (const auto& p : categories.at("stem"))
    unweighted += p.correct / p.size / static_cast<double>(categories.at("stem").size());
  EXPECT_GT(std::abs(results["mmlu_stem"]["acc,none"].get<double>() - unweighted), 0.01);
}

TEST_F(CliTest, KilledRunResumesWithIdenticalResultsAndNoDuplicateRows) {
  LLADA_REQUIRE_SHARED();
  const auto data = SharedDir() / "data";
  const std::vector<std::string> base = {"--tasks", "gsm8k,mmlu_anatomy", "--data-dir", data.string(), "--limit", "30"};
  const CliResult requests = RunCli([&] {
    auto a = base;
    a.insert(a.begin(), "requests");
    return a;
  }());
  ASSERT_EQ(requests.exit_code, 0) << requests.err;
  const int total = CountLines(requests.out);
  ASSERT_EQ(total, 30 + 30 * 4);
  const auto replay = tmp_.path() / "replay.jsonl";
  std::string replay_lines = MakeReplay(requests.out, data, true);
  // Make the answers vary so the aggregate is not trivially 0 or 1.
  std::string mixed;
  int n = 0;
  std::istringstream in(replay_lines);
  for (std::string line; std::getline(in, line); ++n) {
    auto record = nlohmann::json::parse(line);
    if (record.contains("output") && n % 3 == 0) record["output"] = "#### 31337";
    mixed += record.dump() + "\n";
  }
  WriteFile(replay, mixed);
  auto run_args = [&](const std::filesystem::path& out) {
    auto a = base;
    for (const std::string& extra : {std::string("--model"), "replay:" + replay.string(), std::string("--output"),
                                     out.string(), std::string("--log-samples")})
      a.push_back(extra);
    return a;
  };

  CliHooks kill_at_70;
  kill_at_70.after_commit = [](size_t committed) {
    if (committed >= 70) ::raise(SIGKILL);
  };
  const CliResult killed = RunCliInChild(run_args(tmp_.path() / "resumed"), kill_at_70);
  ASSERT_EQ(killed.signal, SIGKILL) << Describe(killed);
  {
    auto store = Store::Open(tmp_.path() / "resumed" / "llada-eval.db");
    EXPECT_EQ(store->CountRows("request_cache"), 70);  // every answered request was committed
    EXPECT_EQ(store->GetRun(1)->status, "running");
    EXPECT_EQ(store->CountRows("samples"), 0);
  }
  const CliResult resumed = RunCli(run_args(tmp_.path() / "resumed"));
  ASSERT_EQ(resumed.exit_code, 0) << Describe(resumed);
  EXPECT_NE(resumed.err.find("resuming run 1"), std::string::npos) << resumed.err;
  EXPECT_TRUE(testing::ContainsCount(resumed.err, std::to_string(total - 70) + " responses computed, 70 from cache"))
      << resumed.err;

  const CliResult clean = RunCli(run_args(tmp_.path() / "clean"));
  ASSERT_EQ(clean.exit_code, 0) << Describe(clean);
  const auto resumed_results = nlohmann::json::parse(ReadFile(LatestResults(tmp_.path() / "resumed")));
  const auto clean_results = nlohmann::json::parse(ReadFile(LatestResults(tmp_.path() / "clean")));
  EXPECT_EQ(resumed_results["results"], clean_results["results"]);
  EXPECT_EQ(ReadFile(tmp_.path() / "resumed" / "samples_gsm8k.jsonl"),
            ReadFile(tmp_.path() / "clean" / "samples_gsm8k.jsonl"));
  const double strict = resumed_results["results"]["gsm8k"]["exact_match,strict-match"];
  EXPECT_GT(strict, 0.0);
  EXPECT_LT(strict, 1.0);

  auto store = Store::Open(tmp_.path() / "resumed" / "llada-eval.db");
  EXPECT_EQ(store->CountRows("runs"), 1);
  EXPECT_EQ(store->CountRows("request_cache"), total);
  EXPECT_EQ(store->CountRows("samples"), 60);
  EXPECT_EQ(store->CountRows("metrics"), 3);  // gsm8k x 2 filters, mmlu_anatomy acc
  EXPECT_EQ(store->GetRun(1)->status, "finished");
}

// Two processes opening one new store at once: both migrate-or-wait, neither
// fails ("table models already exists", "database is locked" before).
TEST_F(CliTest, RunsStartedTogetherOnANewStoreAllSucceed) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto db = tmp_.path() / ("together" + std::to_string(round) + ".db");
    CliResult results[2];
    std::vector<std::thread> runs;
    for (int i = 0; i < 2; ++i)
      runs.emplace_back([&, i] {
        auto args = QuickstartArgs(tmp_.path() / ("out" + std::to_string(round) + "_" + std::to_string(i)));
        args.insert(args.end(), {"--db", db.string()});
        results[i] = RunCli(args);
      });
    for (auto& run : runs) run.join();
    for (const auto& r : results) ASSERT_EQ(r.exit_code, 0) << Describe(r);
    auto store = Store::Open(db);
    EXPECT_EQ(store->CountRows("runs"), 2);  // a finished run is never reopened, a live one never taken over
    EXPECT_EQ(store->GetRun(1)->status, "finished");
    EXPECT_EQ(store->GetRun(2)->status, "finished");
  }
}

// A second process with the same configuration never resumes a run whose
// owner is alive (it starts its own beside it); a killed owner's run is
// resumed (CliTest.KilledRunResumes...).
TEST_F(CliTest, ALiveRunIsNeverTakenOver) {
  const auto db = tmp_.path() / "live.db";
  auto args = QuickstartArgs(tmp_.path() / "first");
  args.insert(args.end(), {"--db", db.string()});
  const auto paused = tmp_.path() / "paused", go = tmp_.path() / "go";
  CliHooks pause_after_first_batch;
  pause_after_first_batch.after_commit = [&](size_t) {
    if (std::filesystem::exists(paused)) return;
    WriteFile(paused, "");
    for (int i = 0; i < 6000 && !std::filesystem::exists(go); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  CliResult first;
  std::thread owner([&] { first = RunCliInChild(args, pause_after_first_batch); });
  for (int i = 0; i < 6000 && !std::filesystem::exists(paused); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(std::filesystem::exists(paused));
  auto second_args = QuickstartArgs(tmp_.path() / "second");
  second_args.insert(second_args.end(), {"--db", db.string()});
  const CliResult second = RunCli(second_args);
  WriteFile(go, "");
  owner.join();
  ASSERT_EQ(second.exit_code, 0) << Describe(second);
  EXPECT_EQ(second.err.find("resuming"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("run 1 has the same configuration and is still running"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("llada-eval: run 2:"), std::string::npos) << second.err;
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  EXPECT_NE(first.err.find("llada-eval: run 1:"), std::string::npos) << first.err;
  auto store = Store::Open(db);
  EXPECT_EQ(store->CountRows("runs"), 2);
  EXPECT_EQ(store->GetRun(1)->status, "finished");
  EXPECT_EQ(store->GetRun(2)->status, "finished");
}

// Each kind of bad input: exit status 2, one error line naming the culprit,
// and a store that still holds everything it held before.
class BadInputTest : public CliTest {
 protected:
  void SetUp() override {
    std::filesystem::copy(SampleData(), tmp_.path() / "data", std::filesystem::copy_options::recursive);
    db_ = tmp_.path() / "store.db";
    auto args = QuickstartArgs(tmp_.path() / "first");
    args.insert(args.end(), {"--db", db_.string()});
    const CliResult first = RunCli(args);
    ASSERT_EQ(first.exit_code, 0) << Describe(first);
    auto store = Store::Open(db_);
    samples_before_ = store->CountRows("samples");
    cache_before_ = store->CountRows("request_cache");
  }

  void ExpectCleanFailure(const CliResult& r, const std::vector<std::string>& culprits) {
    EXPECT_EQ(r.exit_code, 2) << Describe(r);
    ASSERT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("llada-eval: error: ", 0), 0u) << r.err;
    for (const auto& culprit : culprits) EXPECT_NE(r.err.find(culprit), std::string::npos) << r.err;
    auto store = Store::Open(db_);
    EXPECT_EQ(store->CountRows("samples"), samples_before_);
    EXPECT_GE(store->CountRows("request_cache"), cache_before_);
    EXPECT_EQ(store->GetRun(1)->status, "finished");
  }

  CliResult Run(const std::vector<std::string>& changes, const std::string& replay = "") {
    std::vector<std::string> args = {"run",
                                     "--tasks",
                                     "mmlu_astronomy,gsm8k",
                                     "--data-dir",
                                     (tmp_.path() / "data").string(),
                                     "--output",
                                     (tmp_.path() / "out").string(),
                                     "--db",
                                     db_.string(),
                                     "--model"};
    args.push_back(replay.empty() ? "replay:" + (SourceDir() / "samples/replay/quickstart.jsonl").string() : replay);
    args.insert(args.end(), changes.begin(), changes.end());
    return RunCli(args);
  }

  std::filesystem::path db_;
  int64_t samples_before_ = 0, cache_before_ = 0;
};

TEST_F(BadInputTest, MissingDataFile) {
  std::filesystem::remove(tmp_.path() / "data" / "gsm8k" / "test.jsonl");
  ExpectCleanFailure(Run({}), {"gsm8k/test.jsonl", "not found"});
}

TEST_F(BadInputTest, MalformedCsvRow) {
  WriteFile(tmp_.path() / "data" / "mmlu" / "test" / "astronomy_test.csv", "Q1?,a,b,c,d,A\nQ2?,a,b,c,B\n");
  ExpectCleanFailure(Run({}), {"astronomy_test.csv", "row 2", "expected 6 fields"});
}

// A document lacking a field its templates read is reported at load time with
// the data file and record (before: the config was named, and only after the
// model had answered every request).
TEST_F(BadInputTest, DocumentMissingAField) {
  const auto file = tmp_.path() / "data" / "gsm8k" / "test.jsonl";
  std::string rewritten;
  int record = 0;
  for (const auto& line : ReadLines(file)) {
    auto doc = nlohmann::json::parse(line);
    if (++record == 2) doc.erase("answer");
    rewritten += doc.dump() + "\n";
  }
  WriteFile(file, rewritten);
  const CliResult r = Run({});
  ExpectCleanFailure(r, {"gsm8k/test.jsonl: record 2", "answer: template variable not found"});
  EXPECT_EQ(r.err.find("requests:"), std::string::npos) << "no request may run first: " << r.err;
  EXPECT_EQ(Store::Open(db_)->CountRows("request_cache"), cache_before_);
}

// A truncated archive says so (before: "no such member in the archive").
TEST_F(BadInputTest, TruncatedArchive) {
  LLADA_REQUIRE_SHARED();
  const std::string zip = ReadFile(SharedDir() / "data" / "ceval" / "ceval-exam.zip");
  std::filesystem::create_directories(tmp_.path() / "data" / "ceval");
  WriteFile(tmp_.path() / "data" / "ceval" / "ceval-exam.zip", zip.substr(0, zip.size() / 3));
  ExpectCleanFailure(Run({"--tasks", "ceval-valid_veterinary_medicine"}), {"ceval-exam.zip", "damaged or truncated"});
}

TEST_F(BadInputTest, UnknownTask) {
  ExpectCleanFailure(Run({"--tasks", "mmlu_astronomy,no_such_task"}), {"no_such_task"});
  ExpectCleanFailure(Run({"--tasks", "mmlu_astronmy"}), {"did you mean 'mmlu_astronomy'?"});
}

TEST_F(BadInputTest, ReplayFileLackingARecord) {
  const auto replay = tmp_.path() / "partial.jsonl";
  std::string kept;
  for (const auto& line : ReadLines(SourceDir() / "samples/replay/quickstart.jsonl"))
    if (line.find("\"doc_index\": 2, \"request_index\": 0, \"output\"") == std::string::npos) kept += line + "\n";
  WriteFile(replay, kept);
  ExpectCleanFailure(Run({}, "replay:" + replay.string()),
                     {"partial.jsonl", "task gsm8k, doc_index 2, request_index 0"});
}

TEST_F(BadInputTest, ReplayRecordLackingAKey) {
  const auto replay = tmp_.path() / "nokey.jsonl";
  WriteFile(replay, "{\"task\": \"gsm8k\", \"doc_index\": 0, \"output\": \"#### 1\"}\n");
  ExpectCleanFailure(Run({}, "replay:" + replay.string()), {"nokey.jsonl", "line 1", "request_index"});
}

TEST_F(BadInputTest, UnwritableOutput) {
  WriteFile(tmp_.path() / "a-file", "x");
  ExpectCleanFailure(Run({"--output", (tmp_.path() / "a-file" / "out").string()}), {"a-file/out", "--output"});
}

TEST_F(BadInputTest, UnknownOptionAndBadDocRange) {
  ExpectCleanFailure(Run({"--no-such-flag"}), {"--no-such-flag"});
  ExpectCleanFailure(Run({"--doc-range", "5-9"}), {"--doc-range"});
}

// --fewshot-seed reaches the sampler (lm-eval's set_fewshot_seed): another
// seed draws other examples, so other prompts and so other cache keys; the
// default is lm-eval's 1234.
TEST_F(CliTest, FewshotSeedChangesTheDrawsAndTheCacheIdentity) {
  LLADA_REQUIRE_SHARED();
  auto requests = [&](const std::vector<std::string>& seed) {
    std::vector<std::string> args = {
        "requests", "--tasks", "gsm8k", "--shots", "3", "--limit", "4", "--data-dir", (SharedDir() / "data").string()};
    args.insert(args.end(), seed.begin(), seed.end());
    const CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::vector<Request> parsed;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const auto json = nlohmann::json::parse(line);
      Request request;
      request.type = RequestType::kGenerateUntil;
      request.context = json.at("context");
      request.until = json.at("until").get<std::vector<std::string>>();
      parsed.push_back(request);
    }
    return parsed;
  };
  const auto by_default = requests({}), seed_1234 = requests({"--fewshot-seed", "1234"});
  const auto seed_1 = requests({"--fewshot-seed", "1"}), seed_2 = requests({"--fewshot-seed", "2"});
  ASSERT_EQ(by_default.size(), 4u);
  ASSERT_EQ(seed_1234.size(), 4u);
  ASSERT_EQ(seed_1.size(), 4u);
  ASSERT_EQ(seed_2.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(by_default[i].context, seed_1234[i].context) << i;
    EXPECT_NE(seed_1[i].context, by_default[i].context) << i;
    EXPECT_NE(seed_1[i].context, seed_2[i].context) << i;
    // The question itself is the same: only the examples before it moved.
    const auto question = [](const Request& r) { return r.context.substr(r.context.rfind("Question:")); };
    EXPECT_EQ(question(seed_1[i]), question(by_default[i])) << i;
    EXPECT_NE(RequestCacheKey("m", seed_1[i], false), RequestCacheKey("m", by_default[i], false)) << i;
  }
}

// Task configs are checked key by key: a misspelt key or a generation setting
// the backends would ignore is refused naming the file and the key (before,
// `fewshot_spilt` fell back to the default split without a word).
TEST_F(CliTest, TasksCheckRefusesUnknownKeysAndUnsupportedSettings) {
  const CliResult ok = RunCli({"tasks", "--check"});
  ASSERT_EQ(ok.exit_code, 0) << Describe(ok);
  EXPECT_NE(ok.out.find("configs OK: "), std::string::npos) << ok.out;

  const std::vector<std::tuple<std::string, std::string, std::string>> breakages = {
      {"\"fewshot_split\"", "\"fewshot_spilt\"", "fewshot_spilt: unknown key"},
      {"\"do_sample\": false", "\"do_sample\": true", "generation_kwargs.do_sample: sampling is not supported"},
      {"\"until\"", "\"untill\"", "generation_kwargs.untill: unknown key"},
      {"\"regex_pattern\"", "\"regex_patern\"", "filter_list[0].filter[0].regex_patern: unknown key"},
  };
  for (const auto& [from, to, message] : breakages) {
    SCOPED_TRACE(to);
    const auto configs = tmp_.path() / ("configs-" + std::to_string(std::hash<std::string>()(to)));
    std::filesystem::copy(SourceDir() / "configs", configs, std::filesystem::copy_options::recursive);
    std::string gsm8k = ReadFile(configs / "tasks" / "gsm8k.json");
    const size_t at = gsm8k.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    gsm8k.replace(at, from.size(), to);
    WriteFile(configs / "tasks" / "gsm8k.json", gsm8k);
    const CliResult broken = RunCli({"tasks", "--check"}, {{"LLADA_EVAL_CONFIG_DIR", configs.string()}});
    EXPECT_EQ(broken.exit_code, 2) << Describe(broken);
    EXPECT_EQ(CountLines(broken.err), 1) << broken.err;
    EXPECT_NE(broken.err.find("gsm8k.json"), std::string::npos) << broken.err;
    EXPECT_NE(broken.err.find(message), std::string::npos) << broken.err;
  }
}

// Values a flag cannot take are refused before anything runs, naming the flag
// (each of these was accepted once: -1 shots ran the task default, -3 as a
// limit ran everything, seed -1 was stored as 2^64-1, nan slipped past > 0).
TEST_F(BadInputTest, OutOfRangeFlagValues) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--shots", "-1"}, "--shots"},
      {{"--limit", "-3"}, "--limit"},
      {{"--seed", "-1"}, "--seed"},
      {{"--fewshot-seed", "-2"}, "--fewshot-seed"},
      {{"--temperature", "-1"}, "--temperature"},
      {{"--cfg", "inf"}, "--cfg"},
      {{"--mc-num", "0"}, "--mc-num"},
      {{"--exec-time-factor", "nan"}, "--exec-time-factor"},
      {{"--exec-time-floor", "0"}, "--exec-time-floor"},
      {{"--exec-workers", "0"}, "--exec-workers"},
      {{"--exec-workers", "65"}, "between 1 and 64"},
      {{"--batch-size", "0"}, "--batch-size"},
      {{"--remasking", "lowest"}, "--remasking"},
  };
  for (const auto& [flags, culprit] : cases) {
    SCOPED_TRACE(Join(flags, " "));
    ExpectCleanFailure(Run(flags), {culprit});
  }
}

// Code tasks through the CLI: six HumanEval problems answered three times
// right and three times wrong score 0.5 in the sandbox, with the verdicts
// stored per sample. Without a usable sandbox the run refuses, unless
// --unsafe-exec, which is loud and recorded.
class CodeTaskCliTest : public CliTest {
 protected:
  void SetUp() override {
    LLADA_REQUIRE_SHARED();
    LLADA_REQUIRE_BWRAP();
    std::string replay;
    size_t doc = 0;
    for (const auto& line : Split(ReadInputFile(SharedDir() / "data" / "humaneval" / "HumanEval.jsonl.gz"), '\n')) {
      if (PyStrip(line).empty() || doc == 6) continue;
      const std::string right = nlohmann::json::parse(line).at("canonical_solution");
      replay += nlohmann::json({{"task", "humaneval"},
                                {"doc_index", doc},
                                {"request_index", 0},
                                {"output", doc % 2 == 0 ? right : "    return None\n"}})
                    .dump() +
                "\n";
      ++doc;
    }
    replay_ = tmp_.path() / "humaneval.jsonl";
    WriteFile(replay_, replay);
  }
  std::vector<std::string> Args(const std::string& out) const {
    return {"run", "--tasks", "humaneval", "--limit", "6", "--data-dir", (SharedDir() / "data").string(), "--model",
            "replay:" + replay_.string(), "--output", (tmp_.path() / out).string(), "--log-samples", "--exec-workers",
            "2",
            // A FAIL must not become a TIMEOUT on a loaded machine.
            "--exec-time-floor", "60"};
  }
  static nlohmann::json ResultsIn(const std::filesystem::path& dir) {
    return nlohmann::json::parse(testing::ReadFile(testing::LatestResults(dir)));
  }
  std::filesystem::path replay_;
};

// The wall limit is max(--exec-time-floor, --exec-time-factor x the reference
// solution's time): HumanEval/0's canonical solution after a 1.5 s sleep times
// out under a 0.5 s floor with factor 1, and passes under a 60 s floor or a
// factor of 1000 (ten seconds or more: the reference alone takes over 10 ms).
TEST_F(CodeTaskCliTest, TimeLimitFloorAndFactorDecideTimeouts) {
  const std::string canonical =
      nlohmann::json::parse(Split(ReadInputFile(SharedDir() / "data" / "humaneval" / "HumanEval.jsonl.gz"), '\n').at(0))
          .at("canonical_solution");
  const auto replay = tmp_.path() / "slow.jsonl";
  WriteFile(replay, nlohmann::json({{"task", "humaneval"},
                                    {"doc_index", 0},
                                    {"request_index", 0},
                                    {"output", "    import time\n    time.sleep(1.5)\n" + canonical}})
                            .dump() +
                        "\n");
  struct Case {
    std::string floor, factor, verdict;
  };
  for (const auto& c : std::vector<Case>{{"0.5", "1", "TIMEOUT"}, {"60", "1", "PASS"}, {"0.5", "1000", "PASS"}}) {
    const std::string out = "floor" + c.floor + "_factor" + c.factor;
    const CliResult r =
        RunCli({"run", "--tasks", "humaneval", "--limit", "1", "--data-dir", (SharedDir() / "data").string(), "--model",
                "replay:" + replay.string(), "--output", (tmp_.path() / out).string(), "--log-samples",
                "--exec-time-floor", c.floor, "--exec-time-factor", c.factor});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    const auto sample = nlohmann::json::parse(ReadLines(tmp_.path() / out / "samples_humaneval.jsonl").at(0));
    const auto& details = sample.at("details").at("pass@1,create_test");
    EXPECT_EQ(details.at("verdict"), c.verdict) << out << ": " << details.dump();
    EXPECT_EQ(details.at("calibration").at("floor"), std::stod(c.floor)) << details.dump();
    EXPECT_EQ(details.at("calibration").at("factor"), std::stod(c.factor)) << details.dump();
    const double reference = details.at("calibration").at("reference_seconds");
    EXPECT_GT(reference, 0.01) << details.dump();
    EXPECT_DOUBLE_EQ(details.at("limits").at("wall_seconds").get<double>(),
                     std::max(std::stod(c.floor), std::stod(c.factor) * reference))
        << details.dump();
  }
}

TEST_F(CodeTaskCliTest, SandboxedRunScoresAndRecordsVerdicts) {
  const CliResult r = RunCli(Args("safe"));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const auto results = ResultsIn(tmp_.path() / "safe");
  EXPECT_DOUBLE_EQ(results.at("results").at("humaneval").at("pass@1,create_test").get<double>(), 0.5) << results.dump();
  EXPECT_EQ(results.at("config").at("code_execution").at("unsafe_exec"), false);
  size_t samples = 0;
  for (const auto& line : ReadLines(tmp_.path() / "safe" / "samples_humaneval.jsonl")) {
    const auto sample = nlohmann::json::parse(line);
    const auto& details = sample.at("details").at("pass@1,create_test");
    EXPECT_EQ(details.at("sandbox"), "bwrap+seccomp");
    EXPECT_EQ(details.at("verdict"), sample.at("doc_index").get<int>() % 2 == 0 ? "PASS" : "FAIL") << line;
    EXPECT_TRUE(details.at("calibration").at("calibrated").get<bool>()) << line;
    ++samples;
  }
  EXPECT_EQ(samples, 6u);
}

TEST_F(CodeTaskCliTest, UnusableSandboxRefusesUnlessUnsafeExec) {
  const std::map<std::string, std::string> no_bwrap = {{"LLADA_EVAL_BWRAP", "/nonexistent/bwrap"}};
  const CliResult refused = RunCli(Args("refused"), no_bwrap);
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_NE(refused.err.find("sandbox, which is unusable here"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--unsafe-exec"), std::string::npos) << refused.err;
  auto store = Store::Open(tmp_.path() / "refused" / "llada-eval.db");
  EXPECT_EQ(store->GetRun(1)->status, "failed");
  EXPECT_EQ(store->CountRows("request_cache"), 6);  // the responses are kept for the next try

  auto args = Args("unsafe");
  args.push_back("--unsafe-exec");
  const CliResult unsafe = RunCli(args, no_bwrap);
  ASSERT_EQ(unsafe.exit_code, 0) << Describe(unsafe);
  EXPECT_NE(unsafe.err.find("WARNING: --unsafe-exec"), std::string::npos) << unsafe.err;
  const auto results = ResultsIn(tmp_.path() / "unsafe");
  EXPECT_DOUBLE_EQ(results.at("results").at("humaneval").at("pass@1,create_test").get<double>(), 0.5);
  EXPECT_EQ(results.at("config").at("code_execution").at("unsafe_exec"), true);
  for (const auto& line : ReadLines(tmp_.path() / "unsafe" / "samples_humaneval.jsonl"))
    EXPECT_EQ(nlohmann::json::parse(line).at("details").at("pass@1,create_test").at("sandbox"), "none") << line;
}

// A sandbox failure on one program (here a bubblewrap wrapper that fails for
// programs holding a marker, as a machine out of processes would) costs that
// document only: it is tried twice, recorded as SANDBOX_ERROR, the other
// verdicts are scored and stored, and the run exits 4. The same command again
// scores it. (Before, the first such failure stopped the run with exit 2 and
// threw the computed verdicts away.)
TEST_F(CodeTaskCliTest, ASandboxFailureLeavesOneDocumentUnscoredAndExitsFour) {
  const std::string bwrap = boost::process::search_path("bwrap").string();
  // Executed as the slot's uid: it must be able to reach it.
  std::filesystem::permissions(tmp_.path(), std::filesystem::perms::others_exec | std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::add);
  const auto wrapper = tmp_.path() / "flaky-bwrap";
  WriteFile(wrapper, R"sh(#!/bin/bash
for arg in "$@"; do
  if [[ -f "$arg/program.py" ]] && /usr/bin/grep -q SANDBOX_FAIL_MARKER "$arg/program.py"; then
    echo "bwrap: Can't fork for pid 1: Resource temporarily unavailable" >&2
    exit 1
  fi
done
exec )sh" + bwrap + " \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                            std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                            std::filesystem::perms::others_exec);
  std::string replay;
  for (const auto& line : ReadLines(replay_)) {
    auto record = nlohmann::json::parse(line);
    if (record.at("doc_index") == 1) record["output"] = "    # SANDBOX_FAIL_MARKER\n    return None\n";
    replay += record.dump() + "\n";
  }
  WriteFile(replay_, replay);

  const CliResult flaky = RunCli(Args("flaky"), {{"LLADA_EVAL_BWRAP", wrapper.string()}});
  EXPECT_EQ(flaky.exit_code, 4) << Describe(flaky);
  EXPECT_NE(flaky.err.find("llada-eval: 1 documents could not be scored"), std::string::npos) << flaky.err;
  std::map<int, nlohmann::json> samples;
  for (const auto& line : ReadLines(tmp_.path() / "flaky" / "samples_humaneval.jsonl")) {
    const auto sample = nlohmann::json::parse(line);
    samples[sample.at("doc_index").get<int>()] = sample;
  }
  ASSERT_EQ(samples.size(), 6u);
  const auto& failed = samples.at(1);
  EXPECT_NE(failed.at("error").get<std::string>().find("sandbox error"), std::string::npos) << failed;
  EXPECT_EQ(failed.at("details").at("pass@1,create_test").at("verdict"), "SANDBOX_ERROR") << failed;
  EXPECT_EQ(failed.at("details").at("pass@1,create_test").at("retried"), true) << failed;
  for (int doc : {0, 2, 4})
    EXPECT_EQ(samples.at(doc).at("details").at("pass@1,create_test").at("verdict"), "PASS") << samples.at(doc);
  for (int doc : {3, 5})
    EXPECT_EQ(samples.at(doc).at("details").at("pass@1,create_test").at("verdict"), "FAIL") << samples.at(doc);
  // pass@1 over the five scored documents: 3 canonical, 2 wrong.
  EXPECT_DOUBLE_EQ(
      ResultsIn(tmp_.path() / "flaky").at("results").at("humaneval").at("pass@1,create_test").get<double>(), 0.6);

  const CliResult again = RunCli(Args("flaky"));
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_DOUBLE_EQ(
      ResultsIn(tmp_.path() / "flaky").at("results").at("humaneval").at("pass@1,create_test").get<double>(), 0.5);
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

// The LibTorch backends end to end: a tiny checkpoint written by
// `init-model`, evaluated on the shipped samples through the CLI.
class TorchCliTest : public ::testing::TestWithParam<std::string> {
 protected:
  testing::TempDir tmp_;
};

TEST_P(TorchCliTest, TinyCheckpointEvaluatesAndRerunsFromCache) {
  const auto model = tmp_.path() / "model";
  const auto made = testing::RunCli({"init-model", "--arch", GetParam(), "--out", model.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(std::filesystem::exists(model / file)) << file;
  const std::vector<std::string> args = {"--tasks",
                                         "mmlu_astronomy,gsm8k",
                                         "--data-dir",
                                         (testing::SourceDir() / "samples" / "data").string(),
                                         "--limit",
                                         "2",
                                         "--model",
                                         model.string(),
                                         "--output",
                                         (tmp_.path() / "out").string(),
                                         "--log-samples",
                                         "--model-args",
                                         "mc_num=2,mc_batch_size=2,gen_length=8,steps=4,block_length=8,max_gen_toks=8"};
  const auto first = testing::RunCli(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(testing::ContainsCount(first.err, "10 responses computed, 0 from cache")) << first.err;
  const auto results = nlohmann::json::parse(testing::ReadFile(testing::LatestResults(tmp_.path() / "out")));
  const double acc = results["results"]["mmlu_astronomy"]["acc,none"];
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
  const auto sample =
      nlohmann::json::parse(testing::ReadLines(tmp_.path() / "out" / "samples_mmlu_astronomy.jsonl")[0]);
  ASSERT_EQ(sample["responses"].size(), 4u);
  for (const auto& response : sample["responses"]) {
    EXPECT_LT(response["loglikelihood"].get<double>(), 0.0);  // a log-probability of a real token sequence
    EXPECT_TRUE(std::isfinite(response["loglikelihood"].get<double>()));
  }
  // The same command again is served entirely from the request cache, with identical results.
  const auto second = testing::RunCli(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(testing::ContainsCount(second.err, "0 responses computed, 10 from cache")) << second.err;
  const auto again = nlohmann::json::parse(testing::ReadFile(testing::LatestResults(tmp_.path() / "out")));
  EXPECT_EQ(again["results"], results["results"]);
  // A different setting is a different model identity for the request types
  // it affects: LLaDA's cfg changes likelihoods and generations (all 10 redone);
  // an ARM ignores cfg, and max_gen_toks changes only the 2 generations.
  auto changed = args;
  changed.back() = "mc_num=2,mc_batch_size=2,gen_length=8,steps=4,block_length=8,max_gen_toks=6,cfg=0.5";
  const auto third = testing::RunCli(changed);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  const std::string expected = GetParam() == "llada" ? "10 responses computed" : "2 responses computed, 8 from cache";
  EXPECT_TRUE(testing::ContainsCount(third.err, expected)) << third.err;
}

INSTANTIATE_TEST_SUITE_P(Families, TorchCliTest, ::testing::Values("llada", "llama", "qwen2", "mistral"));

// A torch backend's run stopped after its responses are in: killed once the
// first task's samples are stored, killed once the metrics are stored (before
// the run is marked finished), and failed by an error mid-fetch (a backend
// error such as running out of GPU memory). Each time the same command resumes
// run 1 and ends with the results, samples and row counts of a clean run.
TEST(TorchCliResumeTest, RunsKilledWhileScoringOrFailedResumeToTheCleanResults) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "llada";
  ASSERT_EQ(testing::RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  auto args = [&](const std::filesystem::path& out) {
    return std::vector<std::string>{"--tasks",
                                    "mmlu_astronomy,gsm8k",
                                    "--data-dir",
                                    (testing::SourceDir() / "samples" / "data").string(),
                                    "--limit",
                                    "3",
                                    "--shots",
                                    "0",
                                    "--model",
                                    model.string(),
                                    "--output",
                                    out.string(),
                                    "--log-samples",
                                    "--model-args",
                                    "mc_num=2,mc_batch_size=2,gen_length=8,steps=4,block_length=8"};
  };
  const auto clean = testing::RunCli(args(tmp.path() / "clean"));
  ASSERT_EQ(clean.exit_code, 0) << Describe(clean);
  const auto clean_results = nlohmann::json::parse(testing::ReadFile(LatestResults(tmp.path() / "clean")));

  struct Interruption {
    std::string name;
    CliHooks hooks;
    int expected_exit;  // -1: killed
    int samples_left, metrics_left;
  };
  CliHooks after_first_task, after_metrics, failing_fetch;
  after_first_task.after_store = [](const std::string& stored) {
    if (stored == "samples mmlu_astronomy") ::raise(SIGKILL);
  };
  after_metrics.after_store = [](const std::string& stored) {
    if (stored == "metrics") ::raise(SIGKILL);
  };
  failing_fetch.after_commit = [](size_t committed) {
    if (committed >= 4) throw UserError("simulated backend failure after 4 responses");
  };
  const std::vector<Interruption> interruptions = {{"killed while scoring", after_first_task, -1, 3, 0},
                                                   {"killed after the metrics", after_metrics, -1, 6, 3},
                                                   {"failed while fetching", failing_fetch, 2, 0, 0}};
  for (const auto& interruption : interruptions) {
    SCOPED_TRACE(interruption.name);
    const auto out = tmp.path() / ("out " + interruption.name);
    const CliResult stopped = RunCliInChild(args(out), interruption.hooks);
    if (interruption.expected_exit < 0) {
      ASSERT_EQ(stopped.signal, SIGKILL) << Describe(stopped);
    } else {
      ASSERT_EQ(stopped.exit_code, interruption.expected_exit) << Describe(stopped);
    }
    {
      auto store = Store::Open(out / "llada-eval.db");
      EXPECT_EQ(store->GetRun(1)->status, interruption.expected_exit < 0 ? "running" : "failed");
      EXPECT_EQ(store->CountRows("samples"), interruption.samples_left);
      EXPECT_EQ(store->CountRows("metrics"), interruption.metrics_left);
    }
    const CliResult resumed = testing::RunCli(args(out));
    ASSERT_EQ(resumed.exit_code, 0) << Describe(resumed);
    EXPECT_NE(resumed.err.find("resuming run 1"), std::string::npos) << resumed.err;
    const auto results = nlohmann::json::parse(testing::ReadFile(LatestResults(out)));
    EXPECT_EQ(results["results"], clean_results["results"]);
    for (const char* task : {"mmlu_astronomy", "gsm8k"}) {
      const std::string file = std::string("samples_") + task + ".jsonl";
      EXPECT_EQ(testing::ReadFile(out / file), testing::ReadFile(tmp.path() / "clean" / file)) << file;
    }
    auto store = Store::Open(out / "llada-eval.db");
    EXPECT_EQ(store->CountRows("runs"), 1);
    EXPECT_EQ(store->CountRows("samples"), 6);
    EXPECT_EQ(store->CountRows("metrics"), 3);  // mmlu_astronomy acc, gsm8k's two filters
    EXPECT_EQ(store->CountRows("request_cache"), 3 * 4 + 3);
    EXPECT_EQ(store->GetRun(1)->status, "finished");
  }
}

TEST(TorchCliErrorsTest, BrokenCheckpointIsOneClearError) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "model";
  ASSERT_EQ(testing::RunCli({"init-model", "--out", model.string()}).exit_code, 0);
  const std::string bytes = testing::ReadFile(model / "model.safetensors");
  testing::WriteFile(model / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  const auto result =
      testing::RunCli({"--tasks", "gsm8k", "--data-dir", (testing::SourceDir() / "samples" / "data").string(),
                       "--model", model.string(), "--output", (tmp.path() / "out").string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("model.safetensors"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("truncated"), std::string::npos) << result.err;
}

// A checkpoint without its tokenizer.json names the directory and --model
// (before: --tokenizer, a flag `run` does not have).
TEST(TorchCliErrorsTest, CheckpointWithoutTokenizerNamesTheModel) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "model";
  ASSERT_EQ(testing::RunCli({"init-model", "--out", model.string()}).exit_code, 0);
  std::filesystem::remove(model / "tokenizer.json");
  const auto result =
      testing::RunCli({"--tasks", "gsm8k", "--data-dir", (testing::SourceDir() / "samples" / "data").string(),
                       "--model", model.string(), "--output", (tmp.path() / "out").string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find((model / "tokenizer.json").string() + ": --model: no tokenizer.json"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("--tokenizer"), std::string::npos) << result.err;
}

// llada-eval loads LibTorch's backends from llada-eval-torch.so, and only for
// a command that runs a model: without the library, such a command is one
// clear error naming the file, the others work; a library that is not the
// backend is named as such.
TEST(TorchCliErrorsTest, MissingTorchBackendFailsOnlyCommandsThatRunAModel) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "model";
  ASSERT_EQ(testing::RunCli({"init-model", "--out", model.string()}).exit_code, 0);
  const std::string missing = (tmp.path() / "nowhere" / "llada-eval-torch.so").string();
  const std::map<std::string, std::string> without = {{"LLADA_EVAL_TORCH_BACKEND", missing}};
  const auto listed = testing::RunCli({"tasks"}, without);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("mmlu"), std::string::npos);
  const std::vector<std::string> run = {"--tasks",    "gsm8k",
                                        "--limit",    "1",
                                        "--data-dir", (testing::SourceDir() / "samples" / "data").string(),
                                        "--model",    model.string(),
                                        "--output",   (tmp.path() / "out").string()};
  const auto failed = testing::RunCli(run, without);
  EXPECT_EQ(failed.exit_code, 2) << failed.err;
  EXPECT_NE(failed.err.find("cannot load the LibTorch backend " + missing), std::string::npos) << failed.err;
  testing::WriteFile(tmp.path() / "other.so", "");
  const std::string other = (tmp.path() / "other.so").string();
  const auto not_ours = testing::RunCli(run, {{"LLADA_EVAL_TORCH_BACKEND", other}});
  EXPECT_EQ(not_ours.exit_code, 2) << not_ours.err;
  EXPECT_NE(not_ours.err.find(other), std::string::npos) << not_ours.err;
  const std::filesystem::path zlib = "/lib/x86_64-linux-gnu/libz.so.1";  // a library, not the backend
  if (std::filesystem::exists(zlib)) {
    const auto plain = testing::RunCli(run, {{"LLADA_EVAL_TORCH_BACKEND", zlib.string()}});
    EXPECT_EQ(plain.exit_code, 2) << plain.err;
    EXPECT_NE(plain.err.find(zlib.string() + " is not llada-eval's LibTorch backend"), std::string::npos) << plain.err;
  }
}

// As `cmake --install` lays it out, bin/llada-eval finds
// lib/llada-eval/llada-eval-torch.so; without it, the error names both
// places it looked.
TEST(TorchCliErrorsTest, InstalledLayoutFindsTheBackend) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "model";
  ASSERT_EQ(testing::RunCli({"init-model", "--out", model.string()}).exit_code, 0);
  const std::filesystem::path built = LLADA_EVAL_BINARY;
  const auto binary = tmp.path() / "bin" / "llada-eval";
  const auto library = tmp.path() / "lib" / "llada-eval" / "llada-eval-torch.so";
  std::filesystem::create_directories(binary.parent_path());
  std::filesystem::create_directories(library.parent_path());
  std::filesystem::copy_file(built, binary);
  std::filesystem::copy_file(built.parent_path() / "llada-eval-torch.so", library);
  const std::vector<std::string> run = {"--tasks",    "mmlu_astronomy",
                                        "--limit",    "1",
                                        "--data-dir", (testing::SourceDir() / "samples" / "data").string(),
                                        "--model",    model.string(),
                                        "--output",   (tmp.path() / "out").string()};
  const std::map<std::string, std::string> env = {{"LLADA_EVAL_TORCH_BACKEND", testing::kUnset}};
  const auto installed = testing::RunBinary(binary, run, env);
  EXPECT_EQ(installed.exit_code, 0) << testing::Describe(installed);
  std::filesystem::remove(library);
  const auto missing = testing::RunBinary(binary, run, env);
  EXPECT_EQ(missing.exit_code, 2) << testing::Describe(missing);
  EXPECT_NE(missing.err.find("cannot find the LibTorch backend"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("lib/llada-eval/llada-eval-torch.so"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

// Every tiny-llada golden case through the inspection commands, as a user
// would check a checkpoint against a reference run.
TEST(InspectCliTest, TinyLladaGoldenCasesThroughTheCommands) {
  LLADA_REQUIRE_SHARED();
  const auto golden =
      nlohmann::json::parse(testing::ReadFile(testing::SharedDir() / "golden" / "tiny-llada" / "golden.json"));
  const std::string model = (testing::SharedDir() / "models" / "tiny-llada").string();
  testing::TempDir tmp;
  for (const auto& entry : golden.at("logits")) {
    const auto out = tmp.path() / "logits.f32";
    const auto r =
        testing::RunCli({"logits", "--model", model, "--ids", entry.at("input_ids").dump(), "--out", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string ours = testing::ReadFile(out);
    const std::string theirs = testing::ReadFile(testing::SharedDir() / "golden" / "tiny-llada" /
                                                 entry.at("logits").at("file").get<std::string>());
    ASSERT_EQ(ours.size(), theirs.size());
    double max_rel = 0.0;
    for (size_t i = 0; i < ours.size(); i += 4) {
      float a, b;
      std::memcpy(&a, ours.data() + i, 4);
      std::memcpy(&b, theirs.data() + i, 4);
      max_rel =
          std::max(max_rel, std::abs(static_cast<double>(a) - b) / std::max(1.0, std::abs(static_cast<double>(b))));
    }
    EXPECT_LT(max_rel, 1e-5) << entry.at("name");
  }
  for (const auto& c : golden.at("get_log_likelihood").at("cases")) {
    const auto r =
        testing::RunCli({"loglik", "--model", model, "--prompt-ids", c.at("prompt").dump(), "--answer-ids",
                         c.at("answer").dump(), "--mc-num", c.at("mc_num").dump(), "--batch-size",
                         c.at("batch_size").dump(), "--cfg", c.at("cfg_scale").dump(), "--seed", c.at("seed").dump()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto result = nlohmann::json::parse(r.out);
    const double expected = c.at("log_likelihood").get<double>();
    EXPECT_NEAR(result.at("loglik").get<double>(), expected, 1e-6 * std::abs(expected)) << c.at("name");
  }
  // eval_llada.py's suffix-greedy check (is_check_greedy): one case where the
  // answer is the model's greedy continuation, one where it is not.
  size_t greedy_cases = 0;
  for (const auto& c : golden.at("eval_llada").at("cases")) {
    std::vector<std::string> args = {
        "loglik",        "--model", model, "--prompt-ids", c.at("prompt").dump(), "--answer-ids", c.at("answer").dump(),
        "--check-greedy"};
    if (c.contains("seed"))
      for (const std::string& extra :
           std::vector<std::string>{"--seed", c.at("seed").dump(), "--mc-num", c.at("mc_num").dump(), "--batch-size",
                                    c.at("batch_size").dump()})
        args.push_back(extra);
    const auto r = testing::RunCli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto result = nlohmann::json::parse(r.out);
    EXPECT_EQ(result.at("greedy").get<bool>(), c.at("suffix_greedy_prediction").get<bool>()) << c.at("name");
    if (c.contains("get_loglikelihood")) {
      const double expected = c.at("get_loglikelihood");
      EXPECT_NEAR(result.at("loglik").get<double>(), expected, 1e-6 * std::abs(expected)) << c.at("name");
    }
    ++greedy_cases;
  }
  EXPECT_EQ(greedy_cases, 2u);
  for (const auto& c : golden.at("generate").at("cases")) {
    std::vector<std::string> args = {"generate",
                                     "--model",
                                     model,
                                     "--prompt-ids",
                                     c.at("prompt").dump(),
                                     "--steps",
                                     c.at("steps").dump(),
                                     "--gen-length",
                                     c.at("gen_length").dump(),
                                     "--block-length",
                                     c.at("block_length").dump(),
                                     "--temperature",
                                     c.at("temperature").dump(),
                                     "--remasking",
                                     c.at("remasking").get<std::string>()};
    if (!c.at("seed_before_call").is_null()) {
      args.push_back("--seed");
      args.push_back(c.at("seed_before_call").dump());
    }
    const auto r = testing::RunCli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("ids"), c.at("output_ids")) << c.at("name");
  }
}

TEST(InspectCliTest, ArmGoldenCasesThroughTheCommands) {
  LLADA_REQUIRE_SHARED();
  for (const char* name : {"tiny-llama", "tiny-mistral", "tiny-qwen2"}) {
    const auto dir = testing::SharedDir() / "golden" / "arm" / name;
    const auto golden = nlohmann::json::parse(testing::ReadFile(dir / "golden.json"));
    const std::string model = (testing::SharedDir() / "models" / name).string();
    for (const auto& c : golden.at("loglikelihood").at("cases")) {
      const auto r = testing::RunCli({"loglik", "--model", model, "--prompt-ids", c.at("context_ids").dump(),
                                      "--answer-ids", c.at("continuation_ids").dump()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto result = nlohmann::json::parse(r.out);
      EXPECT_NEAR(result.at("loglik").get<double>(), c.at("loglikelihood").get<double>(), 1e-4) << name;
      EXPECT_EQ(result.at("greedy"), c.at("is_greedy")) << name;
    }
    for (const auto& c : golden.at("generate").at("cases")) {
      const auto r = testing::RunCli({"generate", "--model", model, "--prompt-ids", c.at("prompt_ids").dump(),
                                      "--gen-length", c.at("max_new_tokens").dump()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(nlohmann::json::parse(r.out).at("ids").at(0), c.at("output_ids")) << name;
    }
  }
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

TEST(PresetCliTest, PresetsSetShotCountsAndUnknownOnesAreListed) {
  const std::string data = (testing::SourceDir() / "samples" / "data").string();
  auto count = [](const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
  };
  // llada-paper: GSM8K 4-shot (the paper's), so the prompt holds 4 examples + the question.
  const auto paper =
      testing::RunCli({"requests", "--tasks", "gsm8k", "--data-dir", data, "--limit", "1", "--preset", "llada-paper"});
  ASSERT_EQ(paper.exit_code, 0) << paper.err;
  EXPECT_EQ(count(paper.out, "Answer:"), 5u);  // ("Question:" also appears in `until`)
  // lm-eval-default: MMLU 0-shot, as lm-eval runs it without --num_fewshot.
  const auto lmeval = testing::RunCli(
      {"requests", "--tasks", "mmlu_astronomy", "--data-dir", data, "--limit", "1", "--preset", "lm-eval-default"});
  ASSERT_EQ(lmeval.exit_code, 0) << lmeval.err;
  EXPECT_EQ(count(lmeval.out, "Answer:"), 4u);  // one per choice request, no examples
  // --shots overrides the preset.
  const auto shots = testing::RunCli(
      {"requests", "--tasks", "gsm8k", "--data-dir", data, "--limit", "1", "--preset", "llada-paper", "--shots", "2"});
  EXPECT_EQ(count(shots.out, "Answer:"), 3u);
  const auto unknown = testing::RunCli({"requests", "--tasks", "gsm8k", "--data-dir", data, "--preset", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("known: fast-dllm, llada-paper, lm-eval-default"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

// Requests longer than the model's positions: LLaDA fails those samples (the
// run goes on and records why); the ARM path truncates the context from the
// left as lm-eval's HFLM does.
TEST(TorchCliLimitsTest, OverlongRequestsFailAloneOrAreTruncated) {
  testing::TempDir tmp;
  const std::string data = (testing::SourceDir() / "samples" / "data").string();
  for (const char* arch : {"llada", "llama"}) {
    const auto model = tmp.path() / arch;
    ASSERT_EQ(testing::RunCli({"init-model", "--arch", arch, "--out", model.string()}).exit_code, 0);
    auto config = nlohmann::json::parse(testing::ReadFile(model / "config.json"));
    config[std::string(arch) == "llada" ? "max_sequence_length" : "max_position_embeddings"] = 256;
    testing::WriteFile(model / "config.json", config.dump());
    const auto out = tmp.path() / (std::string(arch) + "-out");
    const auto result =
        testing::RunCli({"--tasks", "mmlu_astronomy", "--data-dir", data, "--limit", "2", "--model", model.string(),
                         "--output", out.string(), "--log-samples", "--model-args", "mc_num=2,mc_batch_size=2"});
    ASSERT_EQ(result.exit_code, 0) << result.err;  // a failing sample never kills the run
    const auto sample = nlohmann::json::parse(testing::ReadLines(out / "samples_mmlu_astronomy.jsonl")[0]);
    if (std::string(arch) == "llada") {
      EXPECT_NE(result.err.find("2 documents failed"), std::string::npos) << result.err;
      EXPECT_NE(sample.value("error", std::string()).find("over the model's 256"), std::string::npos) << sample.dump();
    } else {
      EXPECT_FALSE(sample.contains("error")) << sample.dump();
      ASSERT_EQ(sample["responses"].size(), 4u);
      // By hand: the first request's ids, context cut from the left to the
      // last 257 - |continuation| tokens, scored by `loglik` on its own.
      const auto requests =
          testing::RunCli({"requests", "--tasks", "mmlu_astronomy", "--data-dir", data, "--limit", "1"});
      ASSERT_EQ(requests.exit_code, 0) << requests.err;
      const auto request = nlohmann::json::parse(requests.out.substr(0, requests.out.find('\n')));
      const std::string context = request.at("context"), continuation = request.at("continuation");
      const auto encoded =
          testing::RunCli({"tokenize", "--tokenizer", model.string(), "--jsonl"}, {},
                          nlohmann::json(context).dump() + "\n" + nlohmann::json(context + continuation).dump() + "\n");
      ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
      const auto lines = Split(encoded.out, '\n');
      auto context_ids = nlohmann::json::parse(lines.at(0)).at("ids").get<std::vector<int>>();
      const auto whole_ids = nlohmann::json::parse(lines.at(1)).at("ids").get<std::vector<int>>();
      const std::vector<int> continuation_ids(whole_ids.begin() + static_cast<long>(context_ids.size()),
                                              whole_ids.end());
      ASSERT_GT(context_ids.size() + continuation_ids.size(), 257u);  // long enough to be cut
      context_ids.erase(context_ids.begin(), context_ids.end() - static_cast<long>(257 - continuation_ids.size()));
      const auto scored =
          testing::RunCli({"loglik", "--model", model.string(), "--prompt-ids", nlohmann::json(context_ids).dump(),
                           "--answer-ids", nlohmann::json(continuation_ids).dump()});
      ASSERT_EQ(scored.exit_code, 0) << scored.err;
      const double expected = nlohmann::json::parse(scored.out).at("loglik");
      EXPECT_NEAR(sample["responses"][0]["loglikelihood"].get<double>(), expected, 1e-5 * std::abs(expected));
    }
  }
}

// Backend settings per task: the preset's own, its entry for the task, then
// the command line's. Settings are part of the cache key, so what gets
// recomputed shows which settings each task ran with.
TEST(TorchCliSettingsTest, PresetModelArgsApplyPerTaskAndFlagsOverrideThem) {
  testing::TempDir tmp;
  const std::string data = (testing::SourceDir() / "samples" / "data").string();
  const auto model = tmp.path() / "llada";
  ASSERT_EQ(testing::RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  const auto preset = tmp.path() / "tiny.json";
  testing::WriteFile(preset,
                     R"({"name": "tiny", "model_args": {"mc_num": 2, "gen_length": 8, "steps": 8, "block_length": 8},
                                 "tasks": {"gsm8k": {"num_fewshot": 0, "model_args": {"gen_length": 16, "steps": 4}},
                                           "mmlu": {"num_fewshot": 0}}})");
  const auto out = tmp.path() / "out";
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "--tasks", "mmlu_astronomy,gsm8k", "--data-dir", data,         "--limit",  "1",
        "--model", model.string(),         "--output",   out.string(), "--preset", preset.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCli(args);
  };
  const auto first = run({});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(testing::ContainsCount(first.err, "5 responses computed, 0 from cache")) << first.err;
  const auto results = nlohmann::json::parse(testing::ReadFile(testing::LatestResults(out)));
  for (const auto& task : results["config"]["tasks"]) {
    if (task["task"] == "gsm8k") {
      EXPECT_EQ(task["model_args"]["gen_length"], 16);
      EXPECT_EQ(task["model_args"]["steps"], 4);
      EXPECT_EQ(task["model_args"]["block_length"], 8);
    } else {
      EXPECT_EQ(task["model_args"]["gen_length"], 8) << task.dump();
    }
  }
  // The same settings spelled as flags: everything comes from the cache.
  const auto same = run({"--gen-length", "16", "--steps", "4", "--mc-num", "2"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_TRUE(testing::ContainsCount(same.err, "0 responses computed, 5 from cache")) << same.err;
  // A flag overrides the task's preset entry: GSM8K's one generation is redone.
  const auto shorter = run({"--gen-length", "8"});
  ASSERT_EQ(shorter.exit_code, 0) << shorter.err;
  EXPECT_TRUE(testing::ContainsCount(shorter.err, "1 responses computed, 4 from cache")) << shorter.err;
  // A misspelt setting stops the run before any work.
  const auto typo = run({"--model-args", "mc_nmu=4"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("model argument 'mc_nmu' is unknown"), std::string::npos) << typo.err;
  const auto bad = run({"--gen-length", "10", "--block-length", "4"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("must be a multiple of block_length"), std::string::npos) << bad.err;
}

// --device and --dtype through `run` on the checkpoint of the e2e goldens:
// unknown or unavailable devices and dtypes the CPU cannot compute are clear
// user errors before any work; bfloat16 runs and stays near the float32
// reference; the run record says what ran.
// --threads sets LibTorch's threads, and OpenBLAS's where OpenBLAS
// multiplies; where LibTorch's BLAS is OpenBLAS and oneDNN is loaded
// (Debian's LibTorch), oneDNN multiplies on LibTorch's pool and OpenBLAS's
// stays at one thread. The passive OpenMP wait policy is set, before
// LibTorch loads, only where LLADA_EVAL_CPU_GEMM=libtorch asks for LibTorch's
// own products (unless the user chose a policy); estimates do not depend on
// who multiplies beyond float32 rounding; the run records what was in force.
TEST(TorchCliThreadsTest, ThreadSettingsAreAppliedAndRecorded) {
  LLADA_REQUIRE_SHARED();
  testing::TempDir tmp;
  // The test process runs under the passive policy (tests/test_main.cc): its
  // children start without one, as from a shell.
  auto run = [&](const std::string& label, const std::vector<std::string>& extra,
                 std::map<std::string, std::string> env) {
    std::vector<std::string> args = {"run",
                                     "--model",
                                     (SharedDir() / "models" / "mini-llada-llama2").string(),
                                     "--tasks",
                                     "mmlu_abstract_algebra",
                                     "--limit",
                                     "2",
                                     "--data-dir",
                                     (SharedDir() / "data").string(),
                                     "--model-args",
                                     "mc_num=1",
                                     "--log-samples",
                                     "--output",
                                     (tmp.path() / label).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    env.emplace("OMP_WAIT_POLICY", testing::kUnset);
    env.emplace("LLADA_EVAL_CPU_GEMM", testing::kUnset);
    return testing::RunCli(args, env);
  };
  auto config = [&](const std::string& label) {
    return nlohmann::json::parse(testing::ReadFile(LatestResults(tmp.path() / label)))["config"]["cpu_threads"];
  };
  auto loglikelihoods = [&](const std::string& label) {
    std::vector<double> values;
    for (const auto& line : testing::ReadLines(tmp.path() / label / "samples_mmlu_abstract_algebra.jsonl")) {
      const auto sample = nlohmann::json::parse(line);
      for (const auto& response : sample.at("responses")) values.push_back(response.at("loglikelihood").get<double>());
    }
    return values;
  };
  const bool openblas = dlsym(RTLD_DEFAULT, "openblas_set_num_threads") != nullptr;
  const bool onednn = openblas && dlsym(RTLD_DEFAULT, "dnnl_sgemm") != nullptr;

  const auto one = run("one", {"--threads", "1"}, {});
  ASSERT_EQ(one.exit_code, 0) << Describe(one);
  EXPECT_EQ(config("one")["threads"], 1) << config("one");
  const auto two = run("two", {"--threads", "2"}, {});
  ASSERT_EQ(two.exit_code, 0) << Describe(two);
  const auto recorded = config("two");
  EXPECT_EQ(recorded["threads"], 2) << recorded;
  // The transformer's own loops (RMSNorm, RoPE, attention) run on both.
  EXPECT_EQ(recorded["kernel_threads"], 2) << recorded;
  EXPECT_EQ(config("one")["kernel_threads"], 1) << config("one");
  EXPECT_EQ(recorded["gemm"], onednn ? "onednn" : "libtorch") << recorded;
  // A BLAS without a thread setting of its own (PyPI's LibTorch: MKL on
  // libgomp's pool) records null.
  if (openblas) {
    EXPECT_EQ(recorded["blas_threads"], onednn ? 1 : 2) << recorded;
  } else {
    EXPECT_TRUE(recorded["blas_threads"].is_null()) << recorded;
  }
  EXPECT_TRUE(recorded["omp_wait_policy"].is_null()) << recorded;
#if defined(__x86_64__)
  // Denormals flush in every thread of a model-running process.
  EXPECT_EQ(recorded["flush_denormals"], true) << recorded;
#endif
  // OpenBLAS runs kernels as wide as the CPU's vectors, even where it cannot
  // name the CPU (Debian 12's OpenBLAS falls back to Prescott's on this
  // machine kind: a fifth of the speed).
  const auto& core = recorded["blas_core"];
  if (openblas && !std::getenv("OPENBLAS_CORETYPE")) {
    __builtin_cpu_init();
    const std::set<std::string> avx512_cores = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    std::set<std::string> avx2_cores = {"Haswell", "Zen"};
    avx2_cores.insert(avx512_cores.begin(), avx512_cores.end());
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq")) {
      EXPECT_TRUE(core.is_string() && avx512_cores.count(core.get<std::string>())) << core;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      EXPECT_TRUE(core.is_string() && avx2_cores.count(core.get<std::string>())) << core;
    }
  }
  // LibTorch's own products on request: OpenBLAS's pool then takes the
  // threads, beside the passive policy; the estimates agree to rounding.
  const auto own = run("libtorch", {"--threads", "2"}, {{"LLADA_EVAL_CPU_GEMM", "libtorch"}});
  ASSERT_EQ(own.exit_code, 0) << Describe(own);
  EXPECT_EQ(config("libtorch")["gemm"], "libtorch");
  EXPECT_EQ(config("libtorch")["omp_wait_policy"], "PASSIVE") << config("libtorch");
  if (openblas) {
    EXPECT_EQ(config("libtorch")["blas_threads"], 2) << config("libtorch");
  }
  const auto ours = loglikelihoods("two"), theirs = loglikelihoods("libtorch");
  ASSERT_EQ(ours.size(), 8u);
  ASSERT_EQ(theirs.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], theirs[i], 1e-5 * std::abs(theirs[i])) << i;
  const auto unknown = run("unknown", {}, {{"LLADA_EVAL_CPU_GEMM", "mkl"}});
  EXPECT_EQ(unknown.exit_code, 2) << Describe(unknown);
  EXPECT_NE(unknown.err.find("LLADA_EVAL_CPU_GEMM=mkl"), std::string::npos) << unknown.err;

  const auto chosen = run("chosen", {}, {{"OMP_WAIT_POLICY", "active"}});
  ASSERT_EQ(chosen.exit_code, 0) << Describe(chosen);
  const auto by_user = config("chosen");
  EXPECT_EQ(by_user["omp_wait_policy"], "active");
  EXPECT_GE(by_user["threads"].get<int>(), 1);
  const auto zero = run("zero", {"--threads", "0"}, {});
  EXPECT_EQ(zero.exit_code, 2) << Describe(zero);
  EXPECT_NE(zero.err.find("--threads"), std::string::npos) << zero.err;
}

TEST(TorchCliDeviceTest, DevicesAndDtypesRunOrFailClearly) {
  LLADA_REQUIRE_SHARED();
  testing::TempDir tmp;
  const auto golden = nlohmann::json::parse(testing::ReadFile(SharedDir() / "golden" / "e2e" / "e2e_golden.json"));
  auto run = [&](const std::string& label, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--model",
                                     (SharedDir() / "models" / "mini-llada-llama2").string(),
                                     "--tasks",
                                     "mmlu_abstract_algebra",
                                     "--shots",
                                     "5",
                                     "--limit",
                                     "5",
                                     "--data-dir",
                                     (SharedDir() / "data").string(),
                                     "--model-args",
                                     "mc_num=1",
                                     "--log-samples",
                                     "--output",
                                     (tmp.path() / label).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCli(args);
  };
  const auto npu = run("npu", {"--device", "npu"});
  EXPECT_EQ(npu.exit_code, 2) << Describe(npu);
  EXPECT_NE(npu.err.find("--device: 'npu' (expected cpu, cuda or cuda:N)"), std::string::npos) << npu.err;
  const auto cuda = run("cuda", {"--device", "cuda:0"});
  if (cuda.exit_code != 0) {  // a machine or build without CUDA
    EXPECT_EQ(cuda.exit_code, 2) << Describe(cuda);
    EXPECT_NE(cuda.err.find("--device cuda:0: CUDA is not available"), std::string::npos) << cuda.err;
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "cuda" / "llada-eval.db"));  // refused before the store
  } else {
    EXPECT_EQ(nlohmann::json::parse(testing::ReadFile(LatestResults(tmp.path() / "cuda")))["config"]["device"],
              "cuda:0");
  }
  const auto typo = run("typo", {"--dtype", "half"});
  EXPECT_EQ(typo.exit_code, 2) << Describe(typo);
  EXPECT_NE(typo.err.find("--dtype: 'half' (expected auto, float32, bfloat16 or float16)"), std::string::npos);

  // Each dtype against the float32 reference: bfloat16 computes with 8
  // mantissa bits, so close but not equal.
  for (const std::string dtype : {"bfloat16", "float16"}) {
    const auto result = run(dtype, {"--dtype", dtype});
    if (dtype == "float16" && result.exit_code != 0) {  // LibTorch 1.13: no float16 matmul on the CPU
      EXPECT_EQ(result.exit_code, 2) << Describe(result);
      EXPECT_NE(result.err.find("--dtype float16: this LibTorch"), std::string::npos) << result.err;
      continue;
    }
    ASSERT_EQ(result.exit_code, 0) << Describe(result);
    const auto results = nlohmann::json::parse(testing::ReadFile(LatestResults(tmp.path() / dtype)));
    EXPECT_EQ(results["config"]["dtype"], dtype);
    // The run record and the log say what differs from the float32 reference.
    const auto& numerics = results["config"]["numerics"];
    EXPECT_EQ(numerics["compute_dtype"], dtype);
    EXPECT_EQ(numerics["logits_dtype"], "float32");
    const std::string expected_note = "log-likelihood: cross-entropy and sums in float32 over the " + dtype + " logits";
    EXPECT_NE(numerics["differences_from_reference"].dump().find(expected_note), std::string::npos) << numerics;
    EXPECT_NE(result.err.find("unlike the CPU float32 reference: " + expected_note), std::string::npos) << result.err;
    std::map<size_t, nlohmann::json> samples;
    for (const auto& line : testing::ReadLines(tmp.path() / dtype / "samples_mmlu_abstract_algebra.jsonl")) {
      const auto sample = nlohmann::json::parse(line);
      samples[sample.at("doc_index").get<size_t>()] = sample;
    }
    double largest = 0;
    for (const auto& request : golden["cases"]["mmlu"]["requests"]) {
      const double expected = request.at("loglikelihood");
      const double ours = samples.at(
          request.at("doc_index").get<size_t>())["responses"][request.at("idx").get<size_t>()]["loglikelihood"];
      largest = std::max(largest, std::abs(ours - expected) / std::abs(expected));
    }
    EXPECT_GT(largest, 1e-6) << dtype << " gave float32's numbers: was it applied?";
    EXPECT_LT(largest, 0.02) << dtype;
  }
}

// The chat flags through the command line, prompts written out by hand from
// the shipped samples: a named template with a system instruction and
// multi-turn shots; a template without a system role; and the template a
// checkpoint declares in its tokenizer_config.json (--apply-chat-template).
TEST(ChatCliTest, ChatFlagsRenderTheExpectedPrompts) {
  const std::string data = (testing::SourceDir() / "samples" / "data").string();
  const std::string shot =
      "Which planet in the Solar System has the shortest orbital period?\nA. Mercury\nB. Venus\n"
      "C. Earth\nD. Mars\nAnswer:";
  const std::string question =
      "Which gas makes up most of Jupiter's atmosphere by volume?\nA. Oxygen\nB. Hydrogen\n"
      "C. Nitrogen\nD. Carbon dioxide\nAnswer:";
  const std::string description = "The following are multiple choice questions (with answers) about astronomy.";
  auto first_request = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"requests", "--tasks", "mmlu_astronomy", "--data-dir", data, "--limit", "1"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto result = testing::RunCli(args);
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    return nlohmann::json::parse(result.out.substr(0, result.out.find('\n')));
  };
  const auto chatml = first_request({"--shots", "1", "--chat-template", "chatml", "--system-instruction",
                                     "Answer with a letter.", "--fewshot-as-multiturn"});
  EXPECT_EQ(chatml["context"], "<|im_start|>system\nAnswer with a letter.\n\n" + description +
                                   "\n\n<|im_end|>\n<|im_start|>user\n" + shot +
                                   "<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\n" + question +
                                   "<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chatml["continuation"], "A");  // no target delimiter after the assistant header
  const auto mistral =
      first_request({"--shots", "1", "--chat-template", "mistral", "--system-instruction", "Be brief."});
  EXPECT_EQ(mistral["context"], "<s>[INST] " + shot + " A\n\n" + question + " [/INST]");
  const auto multiturn_without_template = testing::RunCli(
      {"requests", "--tasks", "mmlu_astronomy", "--data-dir", data, "--limit", "1", "--fewshot-as-multiturn"});
  EXPECT_EQ(multiturn_without_template.exit_code, 2);
  EXPECT_NE(multiturn_without_template.err.find("--fewshot-as-multiturn needs --apply-chat-template"),
            std::string::npos);

  // --apply-chat-template: a checkpoint whose tokenizer_config.json carries
  // LLaDA's template, with its own BOS.
  testing::TempDir tmp;
  const auto model = tmp.path() / "llada";
  ASSERT_EQ(testing::RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  LLADA_REQUIRE_SHARED();  // LLaDA's template text comes from its tokenizer_config.json there
  auto tokenizer_config = nlohmann::json::parse(testing::ReadFile(model / "tokenizer_config.json"));
  tokenizer_config["chat_template"] = nlohmann::json::parse(testing::ReadFile(
      testing::SharedDir() / "tokenizers" / "llada-8b-base-partial" / "tokenizer_config.json"))["chat_template"];
  tokenizer_config["bos_token"] = "<BOS>";
  testing::WriteFile(model / "tokenizer_config.json", tokenizer_config.dump());
  const auto out = tmp.path() / "out";
  const auto run = testing::RunCli({"--model", model.string(), "--tasks", "mmlu_astronomy", "--data-dir", data,
                                    "--limit", "1", "--shots", "0", "--apply-chat-template", "--output", out.string(),
                                    "--log-samples", "--model-args", "mc_num=1"});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  const auto results = nlohmann::json::parse(testing::ReadFile(LatestResults(out)));
  EXPECT_EQ(results["config"]["chat_template"], "llada");
  const auto sample = nlohmann::json::parse(testing::ReadLines(out / "samples_mmlu_astronomy.jsonl").at(0));
  auto store = Store::Open(out / "llada-eval.db");
  const auto requests = store->LookupRequests({sample["request_keys"][0].get<std::string>()});
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests.begin()->second["context"], "<BOS><|start_header_id|>system<|end_header_id|>\n\n" + description +
                                                     "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
                                                     question +
                                                     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

// Exit status 3 is an internal error (a bug), said as such; the run is marked
// failed and its committed responses are kept.
TEST_F(CliTest, AnInternalErrorExitsThreeAndKeepsTheRun) {
  CliHooks bug;
  bug.after_commit = [](size_t) { throw InternalError("simulated bug"); };
  const auto out = tmp_.path() / "out";
  const CliResult result = RunCliInChild(QuickstartArgs(out), bug);
  EXPECT_EQ(result.exit_code, 3) << Describe(result);
  EXPECT_NE(result.err.find("simulated bug"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("this is a bug; please report it"), std::string::npos) << result.err;
  auto store = Store::Open(out / "llada-eval.db");
  EXPECT_EQ(store->GetRun(1)->status, "failed");
  EXPECT_GT(store->CountRows("request_cache"), 0);
}

// LLaDA's reference toggles as --model-args reach the backend (its settings,
// part of the cache identity, say so); off unless asked. What they do is
// tested on the algorithm (LladaAlgorithmsTest.EosTogglesBehaveAsTheReferenceLoop,
// InspectCliTest's suffix-greedy golden cases).
TEST(TorchCliSettingsTest, LladaToggleModelArgsReachTheBackend) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "llada";
  ASSERT_EQ(testing::RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  for (const bool on : {false, true}) {
    const auto out = tmp.path() / (on ? "on" : "off");
    std::string model_args = "mc_num=1,gen_length=8,steps=8,block_length=8";
    if (on) model_args += ",logits_eos_inf=true,confidence_eos_eot_inf=true,is_check_greedy=true";
    const auto run = testing::RunCli({"--model", model.string(), "--tasks", "mmlu_astronomy,gsm8k", "--data-dir",
                                      (testing::SourceDir() / "samples" / "data").string(), "--limit", "1", "--shots",
                                      "0", "--output", out.string(), "--model-args", model_args});
    ASSERT_EQ(run.exit_code, 0) << Describe(run);
    const auto identity = nlohmann::json::parse(
        nlohmann::json::parse(testing::ReadFile(LatestResults(out)))["config"]["model_identity"].get<std::string>());
    const auto& settings = identity.at("settings");
    EXPECT_EQ(settings.at("generate_until").at("logits_eos_inf"), on);
    EXPECT_EQ(settings.at("generate_until").at("confidence_eos_eot_inf"), on);
    EXPECT_EQ(settings.at("loglikelihood").at("is_check_greedy"), on);
  }
}

// Fast decoding settings through `run`: they enter the generation identity
// (so fast and paper responses never share cache entries) only when set,
// paper-mode identities keep their old form, bad values name the argument,
// and the fast-dllm preset applies its settings.
TEST(TorchCliSettingsTest, FastDecodingModelArgsReachTheBackend) {
  testing::TempDir tmp;
  const auto model = tmp.path() / "llada";
  ASSERT_EQ(testing::RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  auto run = [&](const std::string& label, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--model", model.string(), "--tasks", "gsm8k", "--data-dir",
                                     (testing::SourceDir() / "samples" / "data").string(), "--limit", "2", "--shots",
                                     "0", "--output", (tmp.path() / label).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCli(args);
  };
  auto generation_settings = [&](const std::string& label) {
    const auto identity = nlohmann::json::parse(nlohmann::json::parse(
        testing::ReadFile(LatestResults(tmp.path() / label)))["config"]["model_identity"].get<std::string>());
    return identity.at("settings").at("generate_until");
  };
  // Speed beside accuracy: per sample (its cost) and per task (results' "speed").
  auto speed = [&](const std::string& label) {
    const auto results = nlohmann::json::parse(testing::ReadFile(LatestResults(tmp.path() / label)));
    int64_t calls = 0;
    for (const auto& line : testing::ReadLines(tmp.path() / label / "samples_gsm8k.jsonl")) {
      const auto cost = nlohmann::json::parse(line).at("details").at("cost").at(0);
      EXPECT_LE(cost.at("generated_tokens").get<int64_t>(), 16) << label;
      EXPECT_FALSE(cost.contains("seconds")) << "sample records must not depend on timing";
      calls += cost.at("forward_calls").get<int64_t>();
    }
    const auto& task = results.at("speed").at("gsm8k");
    EXPECT_EQ(task.at("requests"), 2) << label;
    EXPECT_EQ(task.at("forward_calls"), calls) << label;
    EXPECT_GT(task.at("tokens_per_second").get<double>(), 0.0) << label;
    EXPECT_GT(task.at("model_seconds").get<double>(), 0.0) << label;
    return task;
  };
  const std::string lengths = "gen_length=16,steps=16,block_length=8";
  const auto paper = run("paper", {"--model-args", lengths, "--log-samples"});
  ASSERT_EQ(paper.exit_code, 0) << Describe(paper);
  for (const char* key : {"cache", "threshold", "factor", "early_stop"})
    EXPECT_FALSE(generation_settings("paper").contains(key)) << key;
  EXPECT_EQ(speed("paper").at("forward_calls"), 2 * 16);  // generate.py: `steps` passes per request
  const auto fast =
      run("fast", {"--model-args", lengths + ",cache=dual,threshold=0.9,early_stop=true", "--log-samples"});
  ASSERT_EQ(fast.exit_code, 0) << Describe(fast);
  EXPECT_EQ(generation_settings("fast").at("cache"), "dual");
  EXPECT_EQ(generation_settings("fast").at("threshold"), 0.9);
  EXPECT_EQ(generation_settings("fast").at("early_stop"), true);
  EXPECT_EQ(fast.err.find("responses found in the request cache"), std::string::npos) << fast.err;
  EXPECT_LE(speed("fast").at("forward_calls").get<int64_t>(), 2 * 16);

  const auto preset = run("preset", {"--preset", "fast-dllm", "--shots", "0", "--model-args", "gen_length=32"});
  ASSERT_EQ(preset.exit_code, 0) << Describe(preset);
  const auto preset_settings = generation_settings("preset");
  EXPECT_EQ(preset_settings.at("cache"), "dual");
  EXPECT_EQ(preset_settings.at("threshold"), 0.9);
  EXPECT_EQ(preset_settings.at("block_length"), 32);
  EXPECT_EQ(preset_settings.at("gen_length"), 32);

  const auto typo = run("typo", {"--model-args", lengths + ",cache=triple"});
  EXPECT_EQ(typo.exit_code, 2) << Describe(typo);
  EXPECT_NE(typo.err.find("cache='triple' (expected none, prefix or dual)"), std::string::npos) << typo.err;
  const auto cfg = run("cfg", {"--model-args", lengths + ",cache=prefix,cfg=1"});
  EXPECT_EQ(cfg.exit_code, 2) << Describe(cfg);
  EXPECT_NE(cfg.err.find("cfg needs cache=none"), std::string::npos) << cfg.err;
}

// The fifteen evaluations end to end with the tiny LLaDA checkpoint: every
// task renders, runs, scores (code in the sandbox) and reports. 0-shot keeps the byte-level
// tiny tokenizer's prompts short enough for CI.
TEST(TorchCliAllTasksTest, EveryEvaluationRunsEndToEndOnTheTinyModel) {
  LLADA_REQUIRE_SHARED();
  testing::TempDir tmp;
  const auto model = tmp.path() / "llada";
  ASSERT_EQ(testing::RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  const auto out = tmp.path() / "out";
  const std::string tasks =
      "mmlu,bbh,arc_challenge,hellaswag,truthfulqa_mc1,truthfulqa_mc2,winogrande,piqa,gsm8k,minerva_math,"
      "gpqa_main_n_shot,humaneval,mbpp,cmmlu,ceval-valid,reversal_poem";
  const auto result =
      testing::RunCli({"--model", model.string(), "--tasks", tasks, "--limit", "1", "--shots", "0", "--data-dir",
                       (testing::SharedDir() / "data").string(), "--output", out.string(), "--log-samples",
                       "--model-args", "mc_num=2,mc_batch_size=2,gen_length=8,steps=8,block_length=8"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto results = nlohmann::json::parse(testing::ReadFile(testing::LatestResults(out)));
  for (const char* group : {"mmlu", "bbh_cot_fewshot", "minerva_math", "cmmlu", "ceval-valid"})
    EXPECT_TRUE(results["groups"].contains(group) || results["results"].contains(group)) << group;
  for (const char* leaf : {"arc_challenge", "hellaswag", "truthfulqa_mc1", "truthfulqa_mc2", "winogrande", "piqa",
                           "gsm8k", "gpqa_main_n_shot", "reversal_poem_forward", "reversal_poem_reversal"}) {
    ASSERT_TRUE(results["results"].contains(leaf)) << leaf;
    for (const auto& [key, value] : results["results"][leaf].items()) {
      if (key.find(",") != std::string::npos && key.find("stderr") == std::string::npos) {
        EXPECT_TRUE(value.is_number()) << leaf << " " << key;
      }
    }
  }
  EXPECT_TRUE(results["results"]["humaneval"]["pass@1,create_test"].is_number());  // run in the sandbox
  // Missing upstream few-shot splits and what stands in are in the run's metadata.
  size_t fallbacks = 0;
  for (const auto& task : results["config"]["tasks"])
    if (task["fewshot"].contains("fallback")) ++fallbacks;
  EXPECT_EQ(fallbacks, 2u);  // arc_challenge, winogrande
  EXPECT_NE(result.out.find("|humaneval"), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find("documents failed"), std::string::npos) << result.err;
  const auto sample = nlohmann::json::parse(testing::ReadLines(out / "samples_mbpp.jsonl").at(0));
  EXPECT_NE(sample["filtered"]["none"].get<std::string>().find("assert "), std::string::npos) << sample.dump();
  EXPECT_TRUE(sample["details"]["pass@1,none"].contains("verdict")) << sample.dump();  // the sandbox's verdict
}

}  // namespace
}  // namespace llada
