// Adaptive Monte-Carlo likelihood (mc_adaptive) through `llada-eval run` on
// real documents: the first place of each question against a full mc_num run,
// documents kept whole in a model call at any --batch-size, and tasks whose
// metrics read the values themselves left at mc_num samples.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace llada {
namespace {

using testing::Describe;
using testing::SharedDir;
using testing::TempDir;

// doc_index -> the sample record a run wrote for `task`.
std::map<int64_t, nlohmann::json> Samples(const std::filesystem::path& out, const std::string& task) {
  std::map<int64_t, nlohmann::json> samples;
  for (const auto& line : testing::ReadLines(out / ("samples_" + task + ".jsonl"))) {
    const auto sample = nlohmann::json::parse(line);
    samples[sample.at("doc_index").get<int64_t>()] = sample;
  }
  return samples;
}

nlohmann::json Results(const std::filesystem::path& out) {
  for (const auto& entry : std::filesystem::directory_iterator(out))
    if (entry.path().filename().string().rfind("results_", 0) == 0)
      return nlohmann::json::parse(testing::ReadFile(entry.path()));
  ADD_FAILURE() << "no results file in " << out;
  return nullptr;
}

testing::CliResult RunTask(const std::filesystem::path& out, const std::string& tasks, int limit, int batch_size,
                           const std::string& model_args) {
  return testing::RunCli({"run", "--model", (SharedDir() / "models" / "mini-llada-llama2").string(), "--tasks", tasks,
                          "--limit", std::to_string(limit), "--data-dir", (SharedDir() / "data").string(),
                          "--model-args", model_args, "--batch-size", std::to_string(batch_size), "--output",
                          out.string(), "--log-samples"});
}

const int kDocs = 100;

// The bar: the first place equal to the full run's on >= 99 % of
// questions, by acc and by acc_norm, with fewer samples. ARC's choices have
// unequal lengths (unpaired comparisons); WinoGrande's share one
// continuation after two contexts (paired rows). The adaptive run is at
// --batch-size 1, where a document's four requests must still share a call.
TEST(AdaptiveLikelihoodTest, FirstPlacesAgreeWithFullRunsOnRealDocuments) {
  LLADA_REQUIRE_SHARED();
  TempDir dir;
  const std::string full_args = "mc_num=128,mc_batch_size=8";
  const auto full = RunTask(dir.path() / "full", "arc_challenge,winogrande", kDocs, 8, full_args);
  ASSERT_EQ(full.exit_code, 0) << Describe(full);
  const auto adaptive =
      RunTask(dir.path() / "adaptive", "arc_challenge,winogrande", kDocs, 1, full_args + ",mc_adaptive=true");
  ASSERT_EQ(adaptive.exit_code, 0) << Describe(adaptive);
  const nlohmann::json results = Results(dir.path() / "adaptive");
  EXPECT_EQ(results.at("config").at("model_args").at("mc_adaptive"), true);
  for (const std::string task : {"arc_challenge", "winogrande"}) {
    SCOPED_TRACE(task);
    const auto expected = Samples(dir.path() / "full", task), ours = Samples(dir.path() / "adaptive", task);
    ASSERT_EQ(expected.size(), static_cast<size_t>(kDocs));
    ASSERT_EQ(ours.size(), static_cast<size_t>(kDocs));
    std::map<std::string, int> agree;
    int64_t samples = 0, estimates = 0;
    for (const auto& [doc, sample] : expected) {
      const nlohmann::json& metrics = ours.at(doc).at("metrics");
      for (const auto& [metric, value] : sample.at("metrics").items()) agree[metric] += metrics.at(metric) == value;
      for (const auto& cost : ours.at(doc).at("details").at("cost")) {
        samples += cost.at("rows").get<int64_t>();
        ++estimates;
      }
      for (const auto& cost : sample.at("details").at("cost"))  // one-token answers are exact: one row
        EXPECT_TRUE(cost.at("rows") == 128 || cost.at("rows") == 1) << "doc " << doc << ": " << cost;
    }
    ASSERT_FALSE(agree.empty());
    for (const auto& [metric, count] : agree)
      EXPECT_GE(100 * count, 99 * kDocs) << metric << ": first places agreeing, of " << kDocs;
    const double mean = static_cast<double>(samples) / static_cast<double>(estimates);
    EXPECT_LT(mean, 100.0) << "mean samples per estimate";
    EXPECT_DOUBLE_EQ(results.at("speed").at(task).at("samples_per_request").get<double>(), mean);
    std::cerr << task << ": mean samples per estimate " << mean << " of 128; first places agreeing:";
    for (const auto& [metric, count] : agree) std::cerr << " " << metric << " " << count << "/" << kDocs;
    std::cerr << "\n";
  }
  // The same documents at --batch-size 8: documents whole in either case,
  // so the same samples and the same first places.
  const auto batched =
      RunTask(dir.path() / "batched", "arc_challenge", std::min(20, kDocs), 8, full_args + ",mc_adaptive=true");
  ASSERT_EQ(batched.exit_code, 0) << Describe(batched);
  const auto one = Samples(dir.path() / "adaptive", "arc_challenge"),
             eight = Samples(dir.path() / "batched", "arc_challenge");
  for (const auto& [doc, sample] : eight) {
    EXPECT_EQ(sample.at("details"), one.at(doc).at("details")) << "doc " << doc;
    EXPECT_EQ(sample.at("metrics"), one.at(doc).at("metrics")) << "doc " << doc;
  }
}

// TruthfulQA mc2 reads the probabilities themselves: every estimate keeps
// mc_num samples. mc1 (acc only) samples adaptively.
TEST(AdaptiveLikelihoodTest, ValueReadingMetricsKeepEverySample) {
  LLADA_REQUIRE_SHARED();
  TempDir dir;
  const auto run =
      RunTask(dir.path(), "truthfulqa_mc1,truthfulqa_mc2", 4, 8, "mc_num=32,mc_batch_size=8,mc_adaptive=true,mc_min=8");
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  const nlohmann::json speed = Results(dir.path()).at("speed");
  EXPECT_EQ(speed.at("truthfulqa_mc2").at("samples_per_request").get<double>(), 32.0) << speed.dump();
  EXPECT_LT(speed.at("truthfulqa_mc1").at("samples_per_request").get<double>(), 32.0) << speed.dump();
}

TEST(AdaptiveLikelihoodTest, BadSettingsNameTheArgument) {
  LLADA_REQUIRE_SHARED();
  TempDir dir;
  const auto run = RunTask(dir.path(), "arc_challenge", 1, 1, "mc_num=32,mc_batch_size=8,mc_adaptive=true,mc_min=12");
  EXPECT_EQ(run.exit_code, 2) << Describe(run);
  EXPECT_NE(run.err.find("mc_min (12)"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace llada
