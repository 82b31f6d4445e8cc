// Reading runs back: the paired statistics behind `compare` and `study`, the
// regression gate on a planted regression and on Monte-Carlo noise, the study
// reusing the request cache, and the HTML report rendered by headless Chromium.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/process/search_path.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/file_io.h"
#include "core/text.h"
#include "reports/html_report.h"
#include "reports/paired_stats.h"
#include "store/store.h"
#include "tasks/loaders.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::CliResult;
using testing::ReadFile;
using testing::RunCli;
using testing::SharedDir;
using testing::SourceDir;
using testing::TempDir;
using testing::WriteFile;

using testing::Describe;

TEST(PairedStatsTest, McNemarExactMatchesTheBinomialTail) {
  EXPECT_DOUBLE_EQ(McNemarExactP(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(McNemarExactP(5, 5), 1.0);
  EXPECT_NEAR(McNemarExactP(0, 10), 2.0 / 1024, 1e-12);
  EXPECT_NEAR(McNemarExactP(8, 2), 2.0 * (1 + 10 + 45) / 1024, 1e-12);  // symmetric in b and c
  EXPECT_NEAR(McNemarExactP(2, 8), McNemarExactP(8, 2), 1e-15);
}

TEST(PairedStatsTest, HolmKeepsOnlyWhatSurvivesTheCorrection) {
  // 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05/1: all three; with 0.03 second, it stops there.
  EXPECT_EQ(HolmSignificant({0.04, 0.01, 0.02}, 0.05), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(HolmSignificant({0.01, 0.03, 0.04}, 0.05), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(HolmSignificant({0.5}, 0.05), (std::vector<bool>{false}));
}

TEST(PairedStatsTest, ComparePairedCountsDiscordantPairsAndBootstrapsTheInterval) {
  std::vector<double> base(200, 1.0), cand(200, 1.0);
  for (int i = 0; i < 30; ++i) cand[i] = 0.0;  // 30 lost, 4 gained
  for (int i = 100; i < 104; ++i) base[i] = 0.0;
  const PairedResult r = ComparePaired(base, cand);
  EXPECT_EQ(r.test, "mcnemar");
  EXPECT_EQ(r.baseline_only, 30);
  EXPECT_EQ(r.candidate_only, 4);
  EXPECT_NEAR(r.delta, -26.0 / 200, 1e-12);
  EXPECT_LT(r.p_value, 1e-4);
  EXPECT_LT(r.ci_low, r.delta);
  EXPECT_LT(r.ci_high, 0.0);
  EXPECT_EQ(ComparePaired(base, cand).ci_low, r.ci_low);  // deterministic
  const PairedResult continuous = ComparePaired({0.2, 0.4, 0.6, 0.8}, {0.25, 0.45, 0.6, 0.85});
  EXPECT_EQ(continuous.test, "bootstrap");
  EXPECT_NEAR(continuous.delta, 0.0375, 1e-12);
}

TEST(HtmlReportTest, EscapesEverythingThatComesFromData) {
  HtmlReportInput input;
  input.tasks = {"t<1>"};
  input.rows.push_back(
      {"<script>alert(1)</script>", "ARM", "shots:0", false, {{"t<1>", {0.5, 0.1, 10, 0, 3, "acc,none"}}}});
  input.samples.push_back({3, "t<1>", 1, {{0, "prompt & \"quotes\"", "</pre><b>x</b>", "", "", "1", ""}}});
  const std::string html = RenderHtmlReport(input);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("</pre><b>x</b>"), std::string::npos);
  EXPECT_NE(html.find("prompt &amp; &quot;quotes&quot;"), std::string::npos);
  EXPECT_NE(html.find("href=\"#samples-3-t_1_\""), std::string::npos);  // the cell links to its samples
}

class CompareGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LLADA_REQUIRE_SHARED();
    db_ = tmp_.path() / "store.db";
  }
  std::vector<std::string> Base(const std::string& model, const std::string& limit = "120") const {
    return {"--tasks", kTasks, "--data-dir", (SharedDir() / "data").string(), "--limit", limit,       "--shots", "0",
            "--model", model,  "--output",   (tmp_.path() / "out").string(),  "--db",    db_.string()};
  }
  CliResult Compare(const std::string& baseline, const std::string& candidate) {
    return RunCli({"compare", "--db", db_.string(), "--baseline", baseline, "--candidate", candidate, "--json",
                   (tmp_.path() / "compare.json").string()});
  }
  static constexpr const char* kTasks = "mmlu_astronomy,mmlu_high_school_mathematics,mmlu_college_biology";
  TempDir tmp_;
  std::filesystem::path db_;
};

// A candidate that lost a quarter of its right answers on one task fails the
// gate; a candidate that differs from the baseline by a few symmetric flips
// (what noise looks like) passes it.
TEST_F(CompareGateTest, PlantedRegressionFailsAndSymmetricNoisePasses) {
  auto base = Base("unused");
  base.insert(base.begin(), "requests");
  const CliResult requests = RunCli({base.begin(), base.begin() + 9});
  ASSERT_EQ(requests.exit_code, 0) << Describe(requests);
  auto hash = [](const std::string& task, size_t doc) { return std::hash<std::string>()(task + std::to_string(doc)); };
  auto baseline_right = [&](const std::string& task, size_t doc) { return hash(task, doc) % 4 != 0; };  // ~75%
  // Noise: ~6% of documents flip, as many right-to-wrong as wrong-to-right
  // (1/24 of the ~75% right ones, 1/8 of the ~25% wrong ones).
  auto noisy = [&](const std::string& task, size_t doc) {
    const bool right = baseline_right(task, doc);
    const size_t h = hash(task, doc) / 4;
    return (right ? h % 24 == 1 : h % 8 == 1) ? !right : right;
  };
  // Regression: on mmlu_high_school_mathematics, a third of the right answers turn wrong.
  auto regressed = [&](const std::string& task, size_t doc) {
    if (task == "mmlu_high_school_mathematics" && baseline_right(task, doc) && hash(task, doc) % 3 == 0) return false;
    return baseline_right(task, doc);
  };
  const std::vector<std::pair<std::string, std::function<bool(const std::string&, size_t)>>> models = {
      {"baseline", baseline_right}, {"noise", noisy}, {"regressed", regressed}};
  for (const auto& [name, correct] : models) {
    const auto file = tmp_.path() / (name + ".jsonl");
    WriteFile(file, testing::ReplayAnswering(requests.out, SharedDir() / "data", correct));
    auto args = Base("replay:" + file.string());
    args.insert(args.begin(), "run");
    const CliResult run = RunCli(args);
    ASSERT_EQ(run.exit_code, 0) << Describe(run);
  }
  const CliResult noise = Compare("1", "2");
  EXPECT_EQ(noise.exit_code, 0) << Describe(noise);
  EXPECT_NE(noise.out.find("no significant regression"), std::string::npos) << noise.out;
  const CliResult regression = Compare("1", "3");
  EXPECT_EQ(regression.exit_code, 1) << Describe(regression);
  std::cout << noise.out << regression.out;
  const auto json = nlohmann::json::parse(ReadFile(tmp_.path() / "compare.json"));
  EXPECT_TRUE(json.at("regression").get<bool>());
  for (const auto& task : json.at("tasks")) {
    EXPECT_EQ(task.at("n"), 120);
    EXPECT_EQ(task.at("test"), "mcnemar");
    EXPECT_EQ(task.at("verdict"),
              task.at("task") == "mmlu_high_school_mathematics" ? "regression" : "no significant change")
        << task.dump();
  }
  // --min-delta above the drop: not a regression any more.
  const CliResult tolerant =
      RunCli({"compare", "--db", db_.string(), "--baseline", "1", "--candidate", "3", "--min-delta", "0.5"});
  EXPECT_EQ(tolerant.exit_code, 0) << Describe(tolerant);

  // latest:<model> with --tasks and --shots: the newest finished run of that
  // model that covers the tasks at that shot count, else a clear error.
  const std::string latest_baseline = "latest:replay:" + (tmp_.path() / "baseline.jsonl").string();
  auto compare_latest = [&](std::vector<std::string> filter) {
    std::vector<std::string> args = {"compare",    "--db",          db_.string(),
                                     "--baseline", latest_baseline, "--candidate",
                                     "3",          "--json",        (tmp_.path() / "latest.json").string()};
    args.insert(args.end(), filter.begin(), filter.end());
    return RunCli(args);
  };
  const CliResult covered = compare_latest({"--tasks", "mmlu_astronomy,mmlu_college_biology", "--shots", "0"});
  EXPECT_EQ(covered.exit_code, 1) << Describe(covered);  // run 1 against run 3: the planted regression
  EXPECT_EQ(nlohmann::json::parse(ReadFile(tmp_.path() / "latest.json")).at("baseline_run"), 1);
  const CliResult uncovered = compare_latest({"--tasks", "mmlu_anatomy"});
  EXPECT_EQ(uncovered.exit_code, 2) << Describe(uncovered);
  EXPECT_NE(uncovered.err.find("covering mmlu_anatomy"), std::string::npos) << uncovered.err;
  const CliResult other_shots = compare_latest({"--shots", "5"});
  EXPECT_EQ(other_shots.exit_code, 2) << Describe(other_shots);
  EXPECT_NE(other_shots.err.find("at 5 shots"), std::string::npos) << other_shots.err;

  // report --samples-per-cell: each of the 9 cells (3 models x 3 tasks) opens
  // on 7 of its 120 samples.
  const auto html = tmp_.path() / "report.html";
  const CliResult report =
      RunCli({"report", "--db", db_.string(), "--out", html.string(), "--reported", "", "--samples-per-cell", "7"});
  ASSERT_EQ(report.exit_code, 0) << Describe(report);
  const std::string page = ReadFile(html);
  const std::string samples = page.substr(page.find("<h2 id=\"samples\">"));
  EXPECT_EQ(testing::CountOccurrences(samples, " · 7 of 120 documents</summary>"), 9);
  EXPECT_EQ(testing::CountOccurrences(samples, "<tr><td class=\"num\">"), 9 * 7);
}

// scripts/nightly.sh end to end: the first night becomes the baseline, an
// unchanged model passes, a model that lost a third of its right answers fails
// the build (exit 1) and leaves report.html and compare.json behind.
TEST_F(CompareGateTest, NightlyScriptAcceptsPassesAndFails) {
  const CliResult requests = RunCli({"requests", "--tasks", "mmlu_high_school_mathematics", "--data-dir",
                                     (SharedDir() / "data").string(), "--limit", "120", "--shots", "0"});
  ASSERT_EQ(requests.exit_code, 0) << Describe(requests);
  auto hash = [](const std::string& task, size_t doc) { return std::hash<std::string>()(task + std::to_string(doc)); };
  auto right = [&](const std::string& task, size_t doc) { return hash(task, doc) % 4 != 0; };
  auto regressed = [&](const std::string& task, size_t doc) { return right(task, doc) && hash(task, doc) % 3 != 0; };
  const auto model = tmp_.path() / "model.jsonl", state = tmp_.path() / "state";
  auto night = [&](const std::function<bool(const std::string&, size_t)>& correct) {
    WriteFile(model, testing::ReplayAnswering(requests.out, SharedDir() / "data", correct));
    const std::string command =
        "cd '" + SourceDir().string() + "' && LLADA_EVAL_BIN='" + LLADA_EVAL_BINARY +
        "' NIGHTLY_TASKS=mmlu_high_school_mathematics NIGHTLY_LIMIT=120 NIGHTLY_EXTRA_ARGS='--data-dir " +
        (SharedDir() / "data").string() + "' bash scripts/nightly.sh --model 'replay:" + model.string() +
        "' --state '" + state.string() + "' > '" + (tmp_.path() / "nightly.log").string() + "' 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(night(right), 0) << ReadFile(tmp_.path() / "nightly.log");
  EXPECT_NE(ReadFile(tmp_.path() / "nightly.log").find("run 1 is now the accepted baseline"), std::string::npos);
  EXPECT_EQ(night(right), 0) << ReadFile(tmp_.path() / "nightly.log");
  EXPECT_NE(ReadFile(tmp_.path() / "nightly.log").find("no significant regression"), std::string::npos);
  EXPECT_EQ(night(regressed), 1) << ReadFile(tmp_.path() / "nightly.log");
  EXPECT_TRUE(nlohmann::json::parse(ReadFile(state / "compare.json")).at("regression").get<bool>());
  EXPECT_EQ(nlohmann::json::parse(ReadFile(state / "compare.json")).at("baseline_run"), 1);
  EXPECT_NE(ReadFile(state / "report.html").find("3 runs"), std::string::npos);
}

// The real thing: LLaDA's Monte-Carlo likelihoods rerun with another seed
// move answers on some documents, which the gate must not call a regression.
TEST_F(CompareGateTest, MonteCarloRerunWithAnotherSeedPasses) {
  const auto model = tmp_.path() / "llada";
  ASSERT_EQ(RunCli({"init-model", "--arch", "llada", "--out", model.string()}).exit_code, 0);
  for (const char* seed : {"1", "2"}) {
    auto args = Base(model.string(), "50");
    args.insert(args.begin(), "run");
    args.insert(args.end(), {"--mc-num", "2", "--seed", seed});
    const CliResult run = RunCli(args);
    ASSERT_EQ(run.exit_code, 0) << Describe(run);
  }
  const CliResult rerun = Compare("1", "latest:" + model.string());
  EXPECT_EQ(rerun.exit_code, 0) << Describe(rerun);
  std::cout << rerun.out;
  const auto json = nlohmann::json::parse(ReadFile(tmp_.path() / "compare.json"));
  EXPECT_EQ(json.at("candidate_run"), 2);
  int64_t flipped = 0;
  for (const auto& task : json.at("tasks"))
    flipped += task.at("baseline_only_correct").get<int64_t>() + task.at("candidate_only_correct").get<int64_t>();
  EXPECT_GT(flipped, 0) << "the seeds should change some answers, or this test proves nothing: " << json.dump();
  // Unknown run specs are user errors.
  EXPECT_EQ(Compare("1", "latest:no-such-model").exit_code, 2);
  EXPECT_EQ(Compare("1", "99").exit_code, 2);
}

// Two models (LLaDA and a Llama ARM baseline, tiny random checkpoints), three
// tasks, 0 and 1 shots, through `study`; the second study makes no model call;
// the report renders in headless Chromium with no console errors.
class StudyReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* arch : {"llada", "llama"}) {
      const CliResult made = RunCli({"init-model", "--arch", arch, "--out", (tmp_.path() / arch).string()});
      ASSERT_EQ(made.exit_code, 0) << Describe(made);
    }
  }
  CliResult Study(const std::string& report) {
    std::vector<std::string> args = {"study",
                                     "--models",
                                     (tmp_.path() / "llada").string() + "," + (tmp_.path() / "llama").string(),
                                     "--tasks",
                                     "mmlu_astronomy,mmlu_high_school_mathematics,gsm8k",
                                     "--shots",
                                     "0,1",
                                     "--data-dir",
                                     (SourceDir() / "samples" / "data").string(),
                                     "--output",
                                     (tmp_.path() / "out").string(),
                                     "--mc-num",
                                     "2",
                                     "--gen-length",
                                     "8",
                                     "--steps",
                                     "8",
                                     "--block-length",
                                     "8",
                                     "--model-args",
                                     "max_gen_toks=8"};
    if (!report.empty()) args.insert(args.end(), {"--report", report});
    return RunCli(args);
  }
  TempDir tmp_;
};

TEST_F(StudyReportTest, SecondStudyMakesNoModelCallsAndTheReportRendersInChromium) {
  const CliResult first = Study("");
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  EXPECT_TRUE(testing::ContainsCount(first.err, "4 runs, 144 responses computed, 0 from cache")) << first.err;
  // Few-shot minus zero-shot: 2 models x 3 tasks.
  EXPECT_EQ(std::count(first.out.begin(), first.out.end(), '\n'), 1 + 6) << first.out;
  const auto report = tmp_.path() / "report.html";
  const CliResult second = Study(report.string());
  ASSERT_EQ(second.exit_code, 0) << Describe(second);
  EXPECT_TRUE(testing::ContainsCount(second.err, "4 runs, 0 responses computed, 144 from cache")) << second.err;
  EXPECT_EQ(second.out, first.out);  // the same numbers from the cache

  // `runs`: all eight runs, each with its model, shots and a headline value per task.
  const auto db = (tmp_.path() / "out" / "llada-eval.db").string();
  const CliResult runs = RunCli({"runs", "--db", db, "--json"});
  ASSERT_EQ(runs.exit_code, 0) << Describe(runs);
  const auto listed = nlohmann::json::parse(runs.out);
  ASSERT_EQ(listed.size(), 8u);
  EXPECT_EQ(listed[1].at("shots"), "1");
  EXPECT_EQ(listed[2].at("kind"), "ARM");
  EXPECT_EQ(listed[0].at("kind"), "LLaDA");
  EXPECT_EQ(listed[0].at("status"), "finished");
  ASSERT_EQ(listed[0].at("headline").size(), 3u);
  EXPECT_EQ(listed[0].at("headline")[2].at("metric"), "exact_match,strict-match");
  EXPECT_EQ(RunCli({"runs", "--db", (tmp_.path() / "missing.db").string()}).exit_code, 2);

  const std::string html = ReadFile(report);
  // Self-contained: nothing is fetched (the SVG namespace is a name, not a request).
  for (const char* external : {"src=\"http", "href=\"http", "@import", "url(", "<link"})
    EXPECT_EQ(html.find(external), std::string::npos) << external;

  const std::string chromium = boost::process::search_path("chromium").string();
  if (chromium.empty())
    LLADA_SKIP_OR_FAIL("LLADA_EVAL_REQUIRE_CHROMIUM", "chromium is not installed (scripts/setup.sh installs it)");
  const std::filesystem::path artifacts = LLADA_EVAL_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  const auto screenshot = artifacts / "report.png";
  std::filesystem::remove(screenshot);
  const std::string url = "file://" + report.string();
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --window-size=1400,2200 ";
  const std::string dom_file = (tmp_.path() / "dom.html").string(), log_file = (tmp_.path() / "chromium.log").string();
  ASSERT_EQ(
      std::system((chromium + flags + "--dump-dom '" + url + "' > '" + dom_file + "' 2> '" + log_file + "'").c_str()),
      0);
  ASSERT_EQ(std::system((chromium + flags + "--screenshot='" + screenshot.string() + "' '" + url + "' 2>> '" +
                         log_file + "' > /dev/null")
                            .c_str()),
            0);
  const std::string dom = ReadFile(dom_file), log = ReadFile(log_file);
  EXPECT_NE(dom.find("<body data-ready=\"1\">"), std::string::npos) << "the report's script did not finish";
  for (const std::string& line : Split(log, '\n'))
    EXPECT_EQ(line.find(":CONSOLE"), std::string::npos) << line;  // no console message, errors included
  // The rows: both models at both shot settings, and the paper's reported rows for gsm8k.
  for (const std::string& model : {(tmp_.path() / "llada").string(), (tmp_.path() / "llama").string()})
    EXPECT_EQ(testing::CountOccurrences(dom, "<tr class=\"measured\" data-model=\"" + model + "\""), 2) << model;
  EXPECT_NE(dom.find("data-model=\"LLaDA 8B Base\""), std::string::npos);
  EXPECT_NE(dom.find("data-model=\"LLaMA3 8B\""), std::string::npos);
  EXPECT_NE(dom.find(">LLaDA</span>"), std::string::npos);
  EXPECT_NE(dom.find(">ARM</span>"), std::string::npos);
  EXPECT_NE(dom.find("id=\"study-table\""), std::string::npos);
  EXPECT_NE(dom.find(" cores · "), std::string::npos) << "the runs table names the machine";
  // Three task charts, the study chart, and gsm8k's accuracy against speed.
  EXPECT_EQ(testing::CountOccurrences(dom, "<svg"), 5);
  EXPECT_NE(dom.find("id=\"speed\""), std::string::npos);
  EXPECT_GE(testing::CountOccurrences(dom, "<details id=\"samples-"), 12);  // a cell per model, shots and task
  ASSERT_TRUE(std::filesystem::exists(screenshot));
  EXPECT_GT(std::filesystem::file_size(screenshot), 20000u);
  std::cout << "[ report   ] screenshot: " << screenshot.string() << "\n";
}

// A --model-args-grid study: every combination of decoding settings runs on
// the same documents; each is compared with the first (paired accuracy
// difference, speed-up), and the report plots accuracy against speed.
TEST_F(StudyReportTest, SettingsGridIsComparedWithItsFirstCellAndChartedAgainstSpeed) {
  const auto report = tmp_.path() / "grid.html";
  const CliResult study = RunCli({"study",
                                  "--models",
                                  (tmp_.path() / "llada").string(),
                                  "--tasks",
                                  "gsm8k",
                                  "--shots",
                                  "0",
                                  "--data-dir",
                                  (SourceDir() / "samples" / "data").string(),
                                  "--output",
                                  (tmp_.path() / "grid").string(),
                                  "--gen-length",
                                  "16",
                                  "--steps",
                                  "16",
                                  "--block-length",
                                  "8",
                                  "--model-args-grid",
                                  "cache=none,dual threshold=none,0.001",
                                  "--report",
                                  report.string()});
  ASSERT_EQ(study.exit_code, 0) << Describe(study);
  EXPECT_TRUE(testing::ContainsCount(study.err, "4 runs,")) << study.err;
  EXPECT_NE(study.out.find("settings against the baseline (cache=none threshold=none, run 1)"), std::string::npos)
      << study.out;
  for (const char* setting :
       {"cache=none threshold=0.001", "cache=dual threshold=none", "cache=dual threshold=0.001"}) {
    const size_t at = study.out.find(std::string("gsm8k                ") + setting);
    ASSERT_NE(at, std::string::npos) << setting << "\n" << study.out;
    const std::string line = study.out.substr(at, study.out.find('\n', at) - at);
    EXPECT_NE(line.find("x "), std::string::npos) << "no speed-up in: " << line;
    EXPECT_EQ(line.find("nan"), std::string::npos) << "speed missing in: " << line;
  }
  // The grid's cells really ran with their settings.
  const auto db = (tmp_.path() / "grid" / "llada-eval.db").string();
  auto store = Store::Open(db);
  const auto runs = store->ListRuns();
  ASSERT_EQ(runs.size(), 4u);
  const auto identity = nlohmann::json::parse(runs[3].model_identity);
  EXPECT_EQ(identity.at("settings").at("generate_until").at("cache"), "dual");
  EXPECT_EQ(identity.at("settings").at("generate_until").at("threshold"), 0.001);
  EXPECT_FALSE(nlohmann::json::parse(runs[0].model_identity).at("settings").at("generate_until").contains("cache"));
  // Threshold decoding needs fewer forward passes than one per token.
  EXPECT_LT(store->LoadSpeed(runs[1].id).at("gsm8k").at("forward_calls").get<int64_t>(),
            store->LoadSpeed(runs[0].id).at("gsm8k").at("forward_calls").get<int64_t>());

  const std::string html = ReadFile(report);
  EXPECT_NE(html.find("id=\"speed\""), std::string::npos);
  EXPECT_EQ(testing::CountOccurrences(html, "<circle cx="), 2 * 4);  // a point and a legend mark per run
  EXPECT_NE(html.find("gen_length=16 steps=16 block_length=8 cache=dual threshold=0.001"), std::string::npos);
  EXPECT_EQ(RunCli({"study", "--models", "x", "--tasks", "gsm8k", "--model-args-grid", "cache"}).exit_code, 2);
}

}  // namespace
}  // namespace llada
