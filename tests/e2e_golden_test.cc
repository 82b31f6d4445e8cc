// The reference's whole evaluation path (../shared/golden/e2e): eval_llada.py's
// loglikelihood (with _encode_pair and the BOS its tokenizer adds) and
// generate_until (decode, cut at the stop strings, re-encode, decode) on a
// small LLaDA with llama2's real tokenizer, for lm-eval's own MMLU, ARC and
// GSM8K requests. `llada-eval run` must give the same numbers, at batch size 1
// and 8, and whichever requests were computed first or came from the cache.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace llada {
namespace {

using testing::Describe;
using testing::ReadFile;
using testing::ReadLines;
using testing::RunCli;
using testing::SharedDir;
using testing::TempDir;

class E2eGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    LLADA_REQUIRE_SHARED();
    golden_ = nlohmann::json::parse(ReadFile(SharedDir() / "golden" / "e2e" / "e2e_golden.json"));
    ASSERT_TRUE(golden_.at("cases").contains(GetParam()));
  }
  const nlohmann::json& Case() const { return golden_.at("cases").at(GetParam()); }

  // `llada-eval run` with the golden's settings on documents [first, end),
  // into `out` (a store reused across calls).
  testing::CliResult Run(const std::filesystem::path& out, int batch_size, size_t first, size_t end) const {
    const nlohmann::json& settings = Case().at("settings");
    std::string model_args;
    for (const auto& [key, value] : settings.items()) {
      // The golden's "batch_size" is the reference's Monte-Carlo batch.
      const std::string name = key == "batch_size" ? "mc_batch_size" : key;
      model_args += (model_args.empty() ? "" : ",") + name + "=" + value.dump();
    }
    // The golden's few-shot counts (README): MMLU and GSM8K 5-shot, ARC 0-shot.
    const std::string shots = GetParam() == "arc" ? "0" : "5";
    return RunCli({"run", "--model", (SharedDir() / "models" / "mini-llada-llama2").string(), "--tasks", Task(),
                   "--shots", shots, "--doc-range", std::to_string(first) + ":" + std::to_string(end), "--data-dir",
                   (SharedDir() / "data").string(), "--model-args", model_args, "--batch-size",
                   std::to_string(batch_size), "--output", out.string(), "--log-samples"});
  }
  std::string Task() const { return Case().at("requests").at(0).at("task"); }
  size_t Documents() const {
    size_t end = 0;
    for (const auto& request : Case().at("requests")) end = std::max(end, request.at("doc_index").get<size_t>() + 1);
    return end;
  }

  // Every golden request against the samples file a run wrote.
  void ExpectGolden(const std::filesystem::path& out, const std::string& label) const {
    std::map<size_t, nlohmann::json> samples;
    for (const auto& line : ReadLines(out / ("samples_" + Task() + ".jsonl"))) {
      const auto sample = nlohmann::json::parse(line);
      samples[sample.at("doc_index").get<size_t>()] = sample;
    }
    ASSERT_EQ(samples.size(), Documents()) << label;
    for (const auto& request : Case().at("requests")) {
      const size_t doc = request.at("doc_index");
      const std::string where = label + " " + Task() + " doc " + std::to_string(doc);
      ASSERT_FALSE(samples.at(doc).contains("error")) << where << ": " << samples.at(doc).dump();
      const nlohmann::json& responses = samples.at(doc).at("responses");
      if (request.contains("loglikelihood")) {
        const double expected = request.at("loglikelihood");
        const double ours = responses.at(request.at("idx").get<size_t>()).at("loglikelihood");
        // The reference computed in float32: equal to its rounding.
        EXPECT_NEAR(ours, expected, 1e-6 * std::abs(expected)) << where << " choice " << request.at("idx");
      } else {
        EXPECT_EQ(responses.at(0).get<std::string>(), request.at("response").get<std::string>()) << where;
      }
    }
  }

  nlohmann::json golden_;
  TempDir tmp_;
};

TEST_P(E2eGoldenTest, RunReproducesTheReferenceAtBatchSizesOneAndEight) {
  std::map<int, nlohmann::json> metrics;
  for (int batch_size : {1, 8}) {
    const auto out = tmp_.path() / ("batch" + std::to_string(batch_size));
    const auto result = Run(out, batch_size, 0, Documents());
    ASSERT_EQ(result.exit_code, 0) << Describe(result);
    ExpectGolden(out, "--batch-size " + std::to_string(batch_size));
    const auto results = nlohmann::json::parse(ReadFile(testing::LatestResults(out)));
    metrics[batch_size] = results.at("results").at(Task());
    // The four one-token answers of an MMLU question feed the model one row.
    if (GetParam() == "mmlu") {
      const auto& speed = results.at("speed").at(Task());
      EXPECT_EQ(speed.at("rows_requested"), Case().at("requests").size());
      EXPECT_EQ(speed.at("rows_computed"), Documents());
    }
    // The reference's own device and dtype: nothing computed differently.
    EXPECT_EQ(results.at("config").at("numerics").at("differences_from_reference"), nlohmann::json::array());
    EXPECT_EQ(result.err.find("unlike the CPU float32 reference"), std::string::npos) << result.err;
  }
  EXPECT_EQ(metrics.at(1), metrics.at(8));  // scores identical, not merely close
}

// The last documents first, then all of them on the same store: the first
// ones are computed in other batches, the rest come from the cache. Requests
// are seeded each on its own, so neither order nor neighbours move a number.
TEST_P(E2eGoldenTest, RunReproducesTheReferenceWhateverWasComputedFirst) {
  const auto out = tmp_.path() / "split";
  const size_t documents = Documents();
  const auto tail = Run(out, 8, documents - 2, documents);
  ASSERT_EQ(tail.exit_code, 0) << Describe(tail);
  const auto all = Run(out, 3, 0, documents);
  ASSERT_EQ(all.exit_code, 0) << Describe(all);
  EXPECT_NE(all.err.find("responses found in the request cache"), std::string::npos) << all.err;
  ExpectGolden(out, "after a partial run");
}

INSTANTIATE_TEST_SUITE_P(Cases, E2eGoldenTest, ::testing::Values("mmlu", "arc", "gen"));

}  // namespace
}  // namespace llada
