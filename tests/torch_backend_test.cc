// The LibTorch transformer and algorithms against the reference
// implementations' outputs: ../shared/golden/tiny-llada (LLaDA's own Python
// code) and ../shared/golden/arm (Hugging Face transformers v4.39).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/errors.h"
#include "models/checkpoint/model_config.h"
#include "models/torch/causal_lm.h"
#include "models/torch/cpu_kernels.h"
#include "models/torch/cpu_threads.h"
#include "models/torch/llada_algorithms.h"
#include "models/torch/transformer.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::ReadFile;
using testing::SharedDir;

nlohmann::json LoadJson(const std::filesystem::path& path) { return nlohmann::json::parse(ReadFile(path)); }

std::unique_ptr<Transformer> LoadModel(const std::string& name, torch::Device device = torch::kCPU,
                                       torch::ScalarType dtype = torch::kFloat32) {
  const auto dir = SharedDir() / "models" / name;
  const auto checkpoint = Checkpoint::Open(dir);
  return std::make_unique<Transformer>(ReadTransformerConfig(dir), *checkpoint, device, dtype);
}

torch::Tensor Ids(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows)
    for (const auto& id : row) flat.push_back(id.get<int64_t>());
  return torch::tensor(flat, torch::kInt64).view({static_cast<int64_t>(rows.size()), -1});
}

torch::Tensor GoldenLogits(const std::filesystem::path& file, const std::vector<int64_t>& shape) {
  const std::string bytes = ReadFile(file);
  auto tensor = torch::empty(shape, torch::kFloat32);
  EXPECT_EQ(bytes.size(), static_cast<size_t>(tensor.numel()) * 4) << file;
  std::memcpy(tensor.data_ptr<float>(), bytes.data(), std::min(bytes.size(), static_cast<size_t>(tensor.numel()) * 4));
  return tensor;
}

// Compares logits at the valid positions (`valid` [B, T], 1 = real token;
// padded query rows are never read, and attention kernels differ there).
void ExpectLogitsMatch(const torch::Tensor& ours_all, const torch::Tensor& golden_all, const std::string& where,
                       const std::optional<torch::Tensor>& valid = std::nullopt, double tolerance = 1e-5) {
  ASSERT_EQ(ours_all.sizes(), golden_all.sizes()) << where;
  const auto keep = valid ? valid->to(torch::kBool) : torch::ones({ours_all.size(0), ours_all.size(1)}, torch::kBool);
  const auto ours = ours_all.index({keep}), golden = golden_all.index({keep});
  const double max_abs = (ours - golden).abs().max().item<double>();
  const double scale = golden.abs().max().item<double>();
  EXPECT_LT(max_abs, tolerance * std::max(1.0, scale)) << where << ": max |diff| " << max_abs;
  EXPECT_TRUE(torch::equal(ours.argmax(-1), golden.argmax(-1))) << where;
}

// How close a device must come to the references: float32 on the CPU
// reproduces them; a GPU reduces in other orders (and draws sampled
// generation from its own generator, so those cases are left out there).
struct Tolerance {
  double logits;            // relative to the largest |logit|
  double loglik;            // relative
  bool sampled_generation;  // check temperature / random-remasking cases
};
constexpr Tolerance kCpuTolerance{1e-5, 1e-6, true};
constexpr Tolerance kGpuTolerance{1e-4, 1e-4, false};

void CheckMonteCarloGoldens(const Transformer& model, const Tolerance& tolerance) {
  const auto golden = LoadJson(SharedDir() / "golden" / "tiny-llada" / "golden.json");
  for (const auto& c : golden.at("get_log_likelihood").at("cases")) {
    MonteCarloOptions options;
    options.mc_num = c.at("mc_num");
    options.batch_size = c.at("batch_size");
    options.cfg_scale = c.at("cfg_scale");
    options.mask_id = 500;
    torch::manual_seed(c.at("seed").get<uint64_t>());
    const double ll = LladaLogLikelihood(model, c.at("prompt").get<std::vector<int64_t>>(),
                                         c.at("answer").get<std::vector<int64_t>>(), options);
    const double expected = c.at("log_likelihood").get<double>();
    EXPECT_NEAR(ll, expected, tolerance.loglik * std::max(1.0, std::abs(expected)))
        << model.device() << " " << c.at("name") << " mc_num " << options.mc_num << " batch " << options.batch_size
        << " cfg " << options.cfg_scale;
  }
}

void CheckGenerationGoldens(const Transformer& model, const Tolerance& tolerance) {
  const auto golden = LoadJson(SharedDir() / "golden" / "tiny-llada" / "golden.json");
  for (const auto& c : golden.at("generate").at("cases")) {
    const bool sampled = c.at("temperature").get<double>() != 0.0 || c.at("remasking") != "low_confidence";
    if (sampled && !tolerance.sampled_generation) continue;
    DiffusionGenerateOptions options;
    options.steps = c.at("steps");
    options.gen_length = c.at("gen_length");
    options.block_length = c.at("block_length");
    options.temperature = c.at("temperature");
    options.cfg_scale = c.at("cfg_scale");
    options.remasking = c.at("remasking");
    options.mask_id = c.at("mask_id");
    if (!c.at("seed_before_call").is_null()) torch::manual_seed(c.at("seed_before_call").get<uint64_t>());
    int64_t calls = 0;
    const auto output = LladaGenerate(model, Ids(c.at("prompt")), options, &calls).to(torch::kCPU);
    EXPECT_TRUE(torch::equal(output, Ids(c.at("output_ids")))) << model.device() << " " << c.at("name") << "\nours:\n"
                                                               << output;
    EXPECT_EQ(calls, c.at("forward_calls").get<int64_t>()) << c.at("name");
  }
}

// Logits, exact log-likelihoods (one at a time and in one padded batch) and
// cached greedy decoding of a tiny ARM against transformers.
void CheckArmGoldens(const std::string& name, torch::Device device, const Tolerance& tolerance) {
  const auto model = LoadModel(name, device);
  const auto golden_dir = SharedDir() / "golden" / "arm" / name;
  const auto golden = LoadJson(golden_dir / "golden.json");
  const std::string where = name + " on " + device.str() + ": ";
  for (const auto& entry : golden.at("logits")) {
    std::optional<torch::Tensor> mask, positions;
    if (!entry.at("attention_mask").is_null()) mask = Ids(entry.at("attention_mask"));
    if (!entry.at("position_ids").is_null()) positions = Ids(entry.at("position_ids"));
    const auto expected = GoldenLogits(golden_dir / entry.at("logits").at("file").get<std::string>(),
                                       entry.at("logits").at("shape").get<std::vector<int64_t>>());
    ExpectLogitsMatch(model->Forward(Ids(entry.at("input_ids")), mask, positions).to(torch::kCPU), expected,
                      where + entry.at("name").get<std::string>(), mask, tolerance.logits);
  }
  std::vector<CausalQuery> queries;
  for (const auto& c : golden.at("loglikelihood").at("cases"))
    queries.push_back(
        {c.at("context_ids").get<std::vector<int64_t>>(), c.at("continuation_ids").get<std::vector<int64_t>>()});
  const auto batched = CausalLogLikelihoods(*model, queries);  // all cases in one right-padded pass
  size_t i = 0;
  for (const auto& c : golden.at("loglikelihood").at("cases")) {
    const double expected = c.at("loglikelihood").get<double>();
    const auto alone = CausalLogLikelihood(*model, queries[i].context, queries[i].continuation);
    for (const auto* result : {&alone, &batched[i]}) {
      const std::string label = where + (result == &alone ? "" : "batched ") + c.at("name").get<std::string>();
      EXPECT_NEAR(result->loglikelihood, expected, tolerance.logits * std::max(1.0, std::abs(expected))) << label;
      EXPECT_EQ(result->is_greedy, c.at("is_greedy").get<bool>()) << label;
      EXPECT_EQ(result->greedy_tokens, c.at("greedy_tokens").get<std::vector<int64_t>>()) << label;
    }
    ++i;
  }
  for (const auto& c : golden.at("generate").at("cases")) {
    std::vector<int64_t> step_lengths;
    const auto generated = GreedyGenerate(*model, c.at("prompt_ids").get<std::vector<int64_t>>(),
                                          c.at("max_new_tokens").get<int64_t>(), {}, &step_lengths);
    EXPECT_EQ(generated, c.at("new_ids").get<std::vector<int64_t>>()) << where << c.at("name");
    EXPECT_EQ(step_lengths, c.at("cached_step_input_lengths").get<std::vector<int64_t>>()) << where << c.at("name");
  }
}

TEST(LladaTransformerTest, LogitsMatchTheReference) {
  LLADA_REQUIRE_SHARED();
  const auto golden = LoadJson(SharedDir() / "golden" / "tiny-llada" / "golden.json");
  for (const char* checkpoint : {"tiny-llada", "tiny-llada-sharded"}) {
    const auto model = LoadModel(checkpoint);
    for (const auto& entry : golden.at("logits")) {
      const auto shape = entry.at("logits").at("shape").get<std::vector<int64_t>>();
      const auto expected =
          GoldenLogits(SharedDir() / "golden" / "tiny-llada" / entry.at("logits").at("file").get<std::string>(), shape);
      ExpectLogitsMatch(model->Forward(Ids(entry.at("input_ids"))), expected,
                        std::string(checkpoint) + " case " + entry.at("name").get<std::string>());
    }
  }
}

// Reading some positions (the last layer then runs only there, its
// queries included) gives those positions' states from the full pass: a
// block slice of every row, and a scattered pick over padded rows of
// different lengths, one row reading nothing.
TEST(LladaTransformerTest, ReadPositionsHaveTheStatesOfTheFullPass) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  torch::manual_seed(7);
  const auto ids = torch::randint(0, 500, {3, 24}, torch::kInt64);
  auto attention_mask = torch::ones({3, 24}, torch::kInt64);
  attention_mask[1].slice(0, 20).fill_(0);
  attention_mask[2].slice(0, 13).fill_(0);
  const auto full = model->Hidden(ids, attention_mask);
  const auto block = model->Hidden(ids, attention_mask, std::nullopt, nullptr,
                                   [](const torch::Tensor& hidden) { return hidden.slice(1, 8, 12); });
  EXPECT_TRUE(torch::allclose(block, full.slice(1, 8, 12), 1e-5, 1e-6)) << (block - full.slice(1, 8, 12)).abs().max();
  auto picked = torch::zeros({3, 24}, torch::kBool);
  picked[0][3] = true;
  picked[0][23] = true;
  picked[2].slice(0, 0, 13, 2).fill_(true);  // row 1 reads nothing
  const auto scattered = model->Hidden(ids, attention_mask, std::nullopt, nullptr,
                                       [&](const torch::Tensor& hidden) { return hidden.index({picked}); });
  ASSERT_EQ(scattered.size(0), 9);
  EXPECT_TRUE(torch::allclose(scattered, full.index({picked}), 1e-5, 1e-6))
      << (scattered - full.index({picked})).abs().max();
}

// The transformer's CPU steps (models/torch/cpu_kernels.h) against the
// LibTorch op sequences they replace, on shapes that reach their edges: a
// row width off the vector lanes, shared and per-row rotary tables, several
// query blocks per head, strided queries, both score scalings, causal and
// padding masks broadcast over rows or queries, a single query.
TEST(CpuKernelsTest, FusedStepsEqualLibTorchsOpSequences) {
  torch::manual_seed(7);
  auto max_difference = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<double>();
  };

  // RMSNorm and the rotary embedding: the products and sums of LibTorch's
  // kernels, rounded the same way, so equal bit for bit.
  const auto x = torch::randn({2, 37, 100});
  const auto weight = torch::randn({100});
  const auto norm_reference = weight * (x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + 1e-6));
  EXPECT_TRUE(torch::equal(RmsNorm(x, weight, 1e-6), norm_reference))
      << max_difference(RmsNorm(x, weight, 1e-6), norm_reference);

  const auto t = torch::randn({2, 9, 3 * 8}).view({2, 9, 3, 8}).transpose(1, 2);  // a projection's heads
  for (int64_t table_rows : {1, 2}) {
    const auto angles = torch::randn({table_rows, 1, 9, 8});
    const auto cos = angles.cos(), sin = angles.sin();
    const auto rotate_half = torch::cat({-t.slice(-1, 4), t.slice(-1, 0, 4)}, -1);
    const auto rotated = Rotate(t, cos, sin);
    EXPECT_TRUE(torch::equal(rotated, t * cos + rotate_half * sin))
        << "table rows " << table_rows << ": " << max_difference(rotated, t * cos + rotate_half * sin);
  }

  auto residual = torch::randn({2, 5, 10});
  const auto input = torch::randn({2, 5, 24}), projection = torch::randn({10, 24});
  const auto sum_reference = residual + torch::linear(input, projection);
  EXPECT_TRUE(torch::allclose(AddLinear(residual.clone(), input, projection), sum_reference, 1e-5, 1e-5));

  // 1,024 keys: 64 queries a block, so 150 queries take three blocks.
  const auto q = torch::randn({2, 150, 3, 16}).transpose(1, 2);  // strided, as the projection lays it out
  const auto k = torch::randn({2, 3, 1024, 16}), v = torch::randn({2, 3, 1024, 16});
  // LLaDA's scaling (q first), and Hugging Face's (scores divided) under a
  // causal mask with the second row's last keys padded.
  const float lowest = std::numeric_limits<float>::lowest();
  auto causal = torch::zeros({2, 1, 150, 1024});
  causal.masked_fill_(torch::arange(1024).view({1, -1}) > torch::arange(150).view({-1, 1}) + 874, lowest);
  causal[1].slice(-1, 1000).fill_(lowest);
  auto padded_keys = torch::zeros({2, 1, 1, 1024});
  padded_keys[0].slice(-1, 900).fill_(lowest);
  auto reference = [&](const torch::Tensor& queries, ScoreScaling scaling, const torch::Tensor& bias) {
    auto scores = torch::matmul(queries * scaling.query_factor, k.transpose(2, 3)) / scaling.score_divisor;
    if (bias.defined()) scores = scores + bias;
    return torch::matmul(torch::softmax(scores, -1), v);
  };
  const std::vector<std::pair<ScoreScaling, torch::Tensor>> cases = {
      {{0.25, 1.0}, {}}, {{0.25, 1.0}, padded_keys}, {{1.0, 4.0}, causal}};
  for (const auto& [scaling, bias] : cases) {
    const auto attended = Attention(q, k, v, scaling, bias);
    // On oneDNN's products, [b, n, H, hd] underneath: no copy before o_proj
    // (elsewhere LibTorch's op sequence, [b, H, n, hd]).
    if (CpuSgemm()) {
      EXPECT_TRUE(attended.transpose(1, 2).is_contiguous());
    }
    const auto expected = reference(q, scaling, bias);
    EXPECT_TRUE(torch::allclose(attended, expected, 1e-5, 1e-6))
        << "bias " << bias.sizes() << ": " << max_difference(attended, expected);
  }
  const auto last = q.narrow(2, 149, 1);
  EXPECT_TRUE(torch::allclose(Attention(last, k, v, {0.25, 1.0}, padded_keys),
                              reference(last, {0.25, 1.0}, padded_keys), 1e-5, 1e-6));
}

// Where oneDNN's sgemm multiplies, a product wide enough is split by output
// columns across the threads (cpu_kernels.cc): at 1 and 2 threads, one row
// or many, a width that splits unevenly or evenly, Linear and AddLinear give
// LibTorch's product, and the same bits at both thread counts.
TEST(CpuKernelsTest, ProductsAreTheSameAtOneAndTwoThreads) {
  torch::manual_seed(11);
  const int saved_threads = at::get_num_threads();
  for (int64_t rows : {1, 32, 418})
    for (int64_t out : {513, 1536}) {
      const auto x = torch::randn({rows, 512});
      const auto weight = torch::randn({out, 512}) * 0.05;
      const auto bias = torch::randn({out});
      const auto residual = torch::randn({rows, out});
      std::vector<torch::Tensor> linear, added;
      for (int threads : {1, 2}) {
        at::set_num_threads(threads);
        linear.push_back(Linear(x, weight, bias));
        added.push_back(AddLinear(residual.clone(), x, weight));
        EXPECT_TRUE(torch::allclose(linear.back(), torch::linear(x, weight, bias), 1e-5, 1e-5))
            << rows << " x " << out << " at " << threads << " threads";
        EXPECT_TRUE(torch::allclose(added.back(), residual + torch::linear(x, weight), 1e-5, 1e-5))
            << rows << " x " << out << " at " << threads << " threads";
      }
      if (CpuSgemm()) {
        EXPECT_TRUE(torch::equal(linear[0], linear[1])) << rows << " x " << out;
        EXPECT_TRUE(torch::equal(added[0], added[1])) << rows << " x " << out;
      }
    }
  at::set_num_threads(saved_threads);
}

TEST(LladaAlgorithmsTest, ForwardProcessDrawsTheReferenceMasks) {
  LLADA_REQUIRE_SHARED();
  const auto golden = LoadJson(SharedDir() / "golden" / "tiny-llada" / "golden.json").at("get_log_likelihood");
  for (const auto& trace : golden.at("forward_process_traces")) {
    nlohmann::json the_case;
    for (const auto& c : golden.at("cases"))
      if (c.at("name") == trace.at("name")) the_case = c;
    std::vector<int64_t> sequence = the_case.at("prompt").get<std::vector<int64_t>>();
    const auto answer = the_case.at("answer").get<std::vector<int64_t>>();
    sequence.insert(sequence.end(), answer.begin(), answer.end());
    const int64_t batch = trace.at("batch").get<int64_t>();
    const auto seq = torch::tensor(sequence, torch::kInt64).unsqueeze(0).repeat({batch, 1});
    const auto prompt_index = torch::arange(seq.size(1)) < static_cast<int64_t>(the_case.at("prompt").size());
    torch::manual_seed(trace.at("seed").get<uint64_t>());
    for (const char* call : {"call1", "call2"}) {
      auto [noisy, p_mask] = LladaForwardProcess(seq, prompt_index, 500);
      EXPECT_TRUE(torch::equal(noisy, Ids(trace.at(std::string(call) + "_noisy_batch"))))
          << trace.at("name") << " " << call;
      const auto expected_p = torch::tensor(trace.at(std::string(call) + "_p_mask_col0").get<std::vector<float>>());
      EXPECT_TRUE(torch::equal(p_mask.select(1, 0), expected_p)) << trace.at("name") << " " << call;
    }
  }
}

TEST(LladaAlgorithmsTest, MonteCarloLogLikelihoodMatchesTheReference) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  CheckMonteCarloGoldens(*model, kCpuTolerance);
  const auto golden = LoadJson(SharedDir() / "golden" / "tiny-llada" / "golden.json");
  for (const auto& c : golden.at("eval_llada").at("cases")) {
    MonteCarloOptions options;
    options.mask_id = 500;
    std::vector<int64_t> greedy;
    EXPECT_EQ(LladaSuffixGreedy(*model, c.at("prompt").get<std::vector<int64_t>>(),
                                c.at("answer").get<std::vector<int64_t>>(), options, &greedy),
              c.at("suffix_greedy_prediction").get<bool>())
        << c.at("name");
    if (c.contains("greedy_tokens")) {
      EXPECT_EQ(greedy, c.at("greedy_tokens").get<std::vector<int64_t>>()) << c.at("name");
    }
  }
}

// Packing several requests' Monte-Carlo rows into shared (padded) forward
// passes gives each request the estimate it gets alone, to float32 rounding.
TEST(LladaAlgorithmsTest, PackedEstimatesEqualOneAtATime) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  const std::vector<LikelihoodQuery> queries = {{{10, 11, 12, 13, 14, 15}, {20, 21, 22}},
                                                {{30, 31}, {40, 41, 42, 43, 44, 45, 46}},
                                                {{50, 51, 52, 53}, {60}},  // one token: exact path
                                                {{70, 71, 72, 73, 74, 75, 76, 77, 78}, {80, 81}}};
  for (double cfg : {0.0, 0.5}) {
    MonteCarloOptions options;
    options.mc_num = 8;
    options.batch_size = 4;
    options.cfg_scale = cfg;
    options.mask_id = 500;
    options.max_batch_tokens = 1000;  // every row of every query in one or two passes
    const auto packed = LladaLogLikelihoods(*model, queries, options, /*seed_each=*/7);
    ASSERT_EQ(packed.size(), queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      torch::manual_seed(7);
      double standard_error = 0.0;
      const double alone = LladaLogLikelihood(*model, queries[i].prefix, queries[i].target, options, &standard_error);
      EXPECT_NEAR(packed[i].loglikelihood, alone, 2e-6 * std::abs(alone)) << "query " << i << " cfg " << cfg;
      EXPECT_NEAR(packed[i].standard_error, standard_error, 1e-5 * std::max(1.0, standard_error)) << "query " << i;
      if (queries[i].target.size() == 1) {
        EXPECT_EQ(packed[i].standard_error, 0.0);
      } else {
        EXPECT_GT(packed[i].standard_error, 0.0);
      }
    }
  }
}

// Rows identical after masking are computed once: the one-token answers of
// a question (context + one mask) and, under per-request seeding, the rows of
// equal-length choices whose differing tokens are all masked. Every estimate
// stays what it is alone, and the shares of computed rows add up to the
// distinct rows.
TEST(LladaAlgorithmsTest, IdenticalRowsAreComputedOnceWithoutChangingAnEstimate) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  const std::vector<int64_t> context = {10, 11, 12, 13, 14, 15};
  std::vector<LikelihoodQuery> one_token, choices;
  for (int64_t answer : {20, 21, 22, 23}) one_token.push_back({context, {answer}});
  for (int64_t last : {30, 31, 32}) choices.push_back({context, {40, 41, last}});
  MonteCarloOptions options;
  options.mc_num = 16;
  options.batch_size = 8;
  options.mask_id = 500;
  for (const auto* queries : {&one_token, &choices}) {
    const auto estimates = LladaLogLikelihoods(*model, *queries, options, /*seed_each=*/7);
    double computed = 0.0;
    int64_t requested = 0;
    for (size_t i = 0; i < queries->size(); ++i) {
      torch::manual_seed(7);
      const double alone = LladaLogLikelihood(*model, (*queries)[i].prefix, (*queries)[i].target, options);
      EXPECT_NEAR(estimates[i].loglikelihood, alone, 2e-6 * std::abs(alone)) << "query " << i;
      computed += estimates[i].rows_computed;
      requested += estimates[i].rows;
    }
    if (queries == &one_token) {
      EXPECT_EQ(requested, 4);
      EXPECT_NEAR(computed, 1.0, 1e-12);
    } else {
      // The distinct rows, drawn here as the reference draws them (forward_process per batch).
      std::set<std::vector<int64_t>> distinct;
      for (const auto& query : *queries) {
        std::vector<int64_t> sequence = query.prefix;
        sequence.insert(sequence.end(), query.target.begin(), query.target.end());
        const auto batch = torch::tensor(sequence, torch::kInt64).unsqueeze(0).repeat({options.batch_size, 1});
        const auto prompt_index = torch::arange(batch.size(1)) < static_cast<int64_t>(query.prefix.size());
        torch::manual_seed(7);
        for (int round = 0; round < options.mc_num / options.batch_size; ++round) {
          const auto noisy = LladaForwardProcess(batch, prompt_index, 500).first.contiguous();
          for (int64_t r = 0; r < noisy.size(0); ++r)
            distinct.insert({noisy[r].data_ptr<int64_t>(), noisy[r].data_ptr<int64_t>() + noisy.size(1)});
        }
      }
      EXPECT_EQ(requested, 48);
      EXPECT_NEAR(computed, static_cast<double>(distinct.size()), 1e-9);
      EXPECT_LT(distinct.size(), 40u) << "equal-length choices under equal masks should share many rows";
    }
  }
}

// The adaptive test's critical values against tabulated Student t
// quantiles (Abramowitz & Stegun table 26.10) and the normal limit.
TEST(AdaptiveMonteCarloTest, StudentQuantilesMatchTheTables) {
  const struct {
    double level, dof, value;
  } table[] = {{0.975, 10, 2.228}, {0.995, 20, 2.845}, {0.9995, 8, 5.041}, {0.9995, 30, 3.646},
               {0.999, 15, 3.733}, {0.95, 7, 1.895},   {0.975, 1e9, 1.960}};
  for (const auto& row : table)
    EXPECT_NEAR(StudentQuantile(row.level, row.dof), row.value, 0.01 * row.value)
        << "level " << row.level << " dof " << row.dof;
  EXPECT_THROW(StudentQuantile(0.4, 10), InternalError);
}

// Questions sampled adaptively: every estimate is the reference's estimator
// over the first rows of a full run (the same draws), with their standard
// error; a question's choices move together; some questions stop at mc_min,
// some need later rounds; a query outside any question reads all mc_num rows.
TEST(AdaptiveMonteCarloTest, StoppedEstimatesAreTheFirstRowsOfAFullRun) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  const std::vector<int64_t> context = {10, 11, 12, 13, 14, 15, 16, 17};
  MonteCarloOptions options;
  options.mc_num = 64;
  options.batch_size = 8;
  options.mask_id = 500;
  options.adaptive = true;
  options.mc_min = 16;
  ChoiceRanking ranking;
  ranking.by_loglikelihood = true;
  ranking.by_normalized = true;
  // 12 questions of 3 choices, 2 to 6 tokens drawn from a fixed sequence.
  std::vector<LikelihoodQuery> queries;
  uint64_t state = 12345;
  auto next = [&](uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % bound;
  };
  for (int64_t question = 0; question < 12; ++question)
    for (int choice = 0; choice < 3; ++choice) {
      std::vector<int64_t> target(2 + next(5));
      for (auto& id : target) id = 20 + static_cast<int64_t>(next(400));
      queries.emplace_back(context, target);
      queries.back().group = question;
      queries.back().ranking = ranking;
      queries.back().ranking->normalizer = static_cast<double>(1 + next(30));
    }
  queries.emplace_back(context, std::vector<int64_t>{70, 71, 72});  // in no question: all rows
  const auto adaptive = LladaLogLikelihoods(*model, queries, options, /*seed_each=*/7);
  ASSERT_EQ(adaptive.size(), queries.size());
  std::map<int64_t, int> questions_by_rows;
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE("query " + std::to_string(i));
    ASSERT_GE(adaptive[i].rows, options.mc_min);
    ASSERT_LE(adaptive[i].rows, options.mc_num);
    EXPECT_EQ(adaptive[i].rows % options.batch_size, 0);
    if (queries[i].group >= 0) {
      if (i % 3 == 0) {
        ++questions_by_rows[adaptive[i].rows];
      } else {
        EXPECT_EQ(adaptive[i].rows, adaptive[i - 1].rows) << "a choice moved alone";
      }
    }
    MonteCarloOptions fixed = options;
    fixed.adaptive = false;
    fixed.mc_num = static_cast<int>(adaptive[i].rows);
    const auto alone = LladaLogLikelihoods(*model, {{queries[i].prefix, queries[i].target}}, fixed, 7).at(0);
    EXPECT_NEAR(adaptive[i].loglikelihood, alone.loglikelihood, 2e-6 * std::abs(alone.loglikelihood));
    EXPECT_NEAR(adaptive[i].standard_error, alone.standard_error, 1e-5 * std::max(1.0, alone.standard_error));
  }
  EXPECT_EQ(adaptive.back().rows, options.mc_num);
  std::string histogram;
  for (const auto& [rows, count] : questions_by_rows)
    histogram += std::to_string(rows) + ":" + std::to_string(count) + " ";
  EXPECT_GT(questions_by_rows[options.mc_min], 0) << histogram;
  EXPECT_GT(questions_by_rows.rbegin()->first, options.mc_min) << "no question needed a second round: " << histogram;
  // Fewer rows computed than the full run's.
  options.adaptive = false;
  const auto full = LladaLogLikelihoods(*model, queries, options, 7);
  double adaptive_rows = 0.0, full_rows = 0.0;
  for (size_t i = 0; i < queries.size(); ++i) {
    adaptive_rows += adaptive[i].rows_computed;
    full_rows += full[i].rows_computed;
  }
  EXPECT_LT(adaptive_rows, full_rows);
}

// A pass that runs out of device memory is split in halves until it fits
// (simulated on the CPU): the estimates are those of unsplit passes; a
// single row that cannot fit fails its request alone.
TEST(LladaAlgorithmsTest, PassesOutOfMemoryAreSplitWithoutChangingAnEstimate) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  const std::vector<LikelihoodQuery> queries = {{{10, 11, 12, 13, 14, 15}, {20, 21, 22}},
                                                {{30, 31}, {40, 41, 42, 43, 44, 45, 46}},
                                                {{70, 71, 72, 73, 74, 75, 76, 77, 78}, {80, 81}}};
  MonteCarloOptions options;
  options.mc_num = 16;
  options.batch_size = 8;
  options.mask_id = 500;
  options.max_batch_tokens = 10000;  // every row in one pass
  const auto whole = LladaLogLikelihoods(*model, queries, options, 7);
  options.test_out_of_memory_above_tokens = 3 * 11;  // at most three rows of 11 tokens fit
  const auto split = LladaLogLikelihoods(*model, queries, options, 7);
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_NEAR(split[i].loglikelihood, whole[i].loglikelihood, 2e-6 * std::abs(whole[i].loglikelihood)) << i;
    EXPECT_EQ(split[i].rows, whole[i].rows);
  }
  options.test_out_of_memory_above_tokens = 8;  // not even one row
  EXPECT_THROW(LladaLogLikelihoods(*model, queries, options, 7), SampleError);
}

TEST(AdaptiveMonteCarloTest, SettingsAreChecked) {
  MonteCarloOptions options;
  options.mc_num = 64;
  options.batch_size = 8;
  options.adaptive = true;
  for (int mc_min : {4, 12, 72}) {
    options.mc_min = mc_min;
    EXPECT_THROW(CheckMonteCarloOptions(options), UserError) << mc_min;
  }
  options.mc_min = 16;
  EXPECT_NO_THROW(CheckMonteCarloOptions(options));
  options.confidence = 1.0;
  EXPECT_THROW(CheckMonteCarloOptions(options), UserError);
}

TEST(LladaAlgorithmsTest, DiffusionGenerationMatchesTheReference) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  CheckGenerationGoldens(*model, kCpuTolerance);
}

// The reference's EOS toggles (generate.py: logits_eos_inf bans EOS before the
// argmax; confidence_eos_eot_inf sets the EOS and EoT logits to -inf after it,
// so such positions get confidence 0 and are committed last), against the
// spec's loop written out plainly (shared/spec/llada.md 3.3) at T=0 with one
// block and one token per step. The tiny model never emits the real EOS, so
// its two most frequent generated tokens stand in for EOS and EoT.
TEST(LladaAlgorithmsTest, EosTogglesBehaveAsTheReferenceLoop) {
  LLADA_REQUIRE_SHARED();
  const auto model = LoadModel("tiny-llada");
  const auto golden = LoadJson(SharedDir() / "golden" / "tiny-llada" / "golden.json");
  const auto& g5 = golden.at("generate").at("cases").at(3);
  ASSERT_EQ(g5.at("name"), "g5");
  const torch::Tensor prompt = Ids(g5.at("prompt"));
  const int64_t prompt_length = prompt.size(1), gen_length = 16, mask_id = g5.at("mask_id");
  // The two tokens the default decoding emits most.
  DiffusionGenerateOptions options;
  options.steps = options.gen_length = options.block_length = gen_length;
  options.mask_id = mask_id;
  const torch::Tensor plain = LladaGenerate(*model, prompt, options).slice(1, prompt_length);
  std::map<int64_t, int> counts;
  for (int64_t i = 0; i < gen_length; ++i) ++counts[plain[0][i].item<int64_t>()];
  std::vector<std::pair<int, int64_t>> by_count;
  for (const auto& [token, count] : counts) by_count.push_back({count, token});
  std::sort(by_count.rbegin(), by_count.rend());
  ASSERT_GE(by_count.size(), 2u);
  ASSERT_GE(by_count[0].first, 2) << plain;
  options.eos_id = by_count[0].second;
  options.eot_id = by_count[1].second;

  auto reference_loop = [&](bool ban_eos, bool zero_confidence) {
    torch::Tensor x = torch::full({1, prompt_length + gen_length}, mask_id, torch::kInt64);
    x.slice(1, 0, prompt_length).copy_(prompt);
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t step = 0; step < gen_length; ++step) {
      torch::Tensor logits = model->Forward(x)[0].clone();  // [L, V]
      if (ban_eos) logits.select(1, options.eos_id).fill_(-inf);
      const torch::Tensor x0 = logits.argmax(-1);
      if (zero_confidence) {
        logits.select(1, options.eos_id).fill_(-inf);
        logits.select(1, options.eot_id).fill_(-inf);
      }
      torch::Tensor confidence = torch::softmax(logits, -1).gather(1, x0.unsqueeze(1)).squeeze(1);
      confidence.masked_fill_(x[0] != mask_id, -inf);
      const int64_t chosen = confidence.argmax().item<int64_t>();
      x[0][chosen] = x0[chosen];
    }
    return x.slice(1, prompt_length);
  };
  std::map<std::string, torch::Tensor> outputs;
  for (const auto& [ban_eos, zero_confidence] :
       std::vector<std::pair<bool, bool>>{{false, false}, {true, false}, {false, true}, {true, true}}) {
    options.logits_eos_inf = ban_eos;
    options.confidence_eos_eot_inf = zero_confidence;
    const torch::Tensor ours = LladaGenerate(*model, prompt, options).slice(1, prompt_length);
    const std::string label =
        std::string(ban_eos ? "logits_eos_inf " : "") + (zero_confidence ? "confidence_eos_eot_inf" : "");
    EXPECT_TRUE(torch::equal(ours, reference_loop(ban_eos, zero_confidence))) << label << "\nours:\n" << ours;
    if (ban_eos) {
      EXPECT_FALSE((ours == options.eos_id).any().item<bool>()) << label << ": EOS generated";
    }
    outputs[label] = ours;
  }
  // Each toggle changes this decoding, so the comparisons above are not vacuous.
  EXPECT_TRUE(torch::equal(outputs.at(""), plain));
  EXPECT_FALSE(torch::equal(outputs.at("logits_eos_inf "), plain));
  EXPECT_FALSE(torch::equal(outputs.at("confidence_eos_eot_inf"), plain));
}

// bfloat16 weights and activations, but the scores are taken in float32 (the
// head casts its output) and summed there: equal to a float64 computation on
// the same logits. Taken in bfloat16, as the references do, each token's loss
// would be rounded to 8 mantissa bits (~4e-3 relative).
TEST(LowPrecisionTest, BFloat16LogitsAreScoredAndSummedInFloat32) {
  LLADA_REQUIRE_SHARED();
  const std::vector<int64_t> context = {10, 11, 12, 13, 14, 15, 16, 17};
  const std::vector<int64_t> continuation = {20, 21, 22, 23, 24, 25};
  {
    const auto llada = LoadModel("tiny-llada", torch::kCPU, torch::kBFloat16);
    MonteCarloOptions options;
    options.mask_id = 500;
    // A one-token answer: the estimate is exactly log p(answer | context, answer masked).
    std::vector<int64_t> masked = context;
    masked.push_back(500);
    const auto logits = llada->Forward(torch::tensor(masked, torch::kInt64).unsqueeze(0));
    ASSERT_EQ(logits.scalar_type(), torch::kFloat32);
    const double expected = torch::log_softmax(logits[0][-1].to(torch::kFloat64), -1)[continuation[0]].item<double>();
    const double ours = LladaLogLikelihood(*llada, context, {continuation[0]}, options);
    EXPECT_NEAR(ours, expected, 1e-6 * std::abs(expected));
  }
  const auto arm = LoadModel("tiny-llama", torch::kCPU, torch::kBFloat16);
  std::vector<int64_t> input = context;
  input.insert(input.end(), continuation.begin(), continuation.end() - 1);
  const auto logprobs =
      torch::log_softmax(arm->Forward(torch::tensor(input, torch::kInt64).unsqueeze(0))[0].to(torch::kFloat64), -1);
  double expected = 0.0;
  for (size_t i = 0; i < continuation.size(); ++i)
    expected += logprobs[static_cast<int64_t>(context.size() - 1 + i)][continuation[i]].item<double>();
  const double ours = CausalLogLikelihood(*arm, context, continuation).loglikelihood;
  EXPECT_NEAR(ours, expected, 1e-6 * std::abs(expected));
}

class ArmTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ArmTest, LogitsLoglikelihoodAndGreedyDecodingMatchTransformers) {
  LLADA_REQUIRE_SHARED();
  CheckArmGoldens(GetParam(), torch::kCPU, kCpuTolerance);
}

INSTANTIATE_TEST_SUITE_P(TinyArms, ArmTest, ::testing::Values("tiny-llama", "tiny-mistral", "tiny-qwen2"));

// A left-padded batch (0, 7 and 11 pads) generates what transformers v4.39's
// generate() does (tests/reference/arm_left_padded_generate.py wrote the
// expected tokens), through `llada-eval generate --attention-mask` as a user
// calls it. Before, rows with pads differed from the first token on.
TEST(ArmBatchedGenerationTest, LeftPaddedRowsMatchTransformers) {
  LLADA_REQUIRE_SHARED();
  const auto reference =
      nlohmann::json::parse(ReadFile(testing::SourceDir() / "tests/data/arm_left_padded_generate.json"));
  ASSERT_EQ(reference.at("transformers"), "4.39.0");
  for (const auto& c : reference.at("cases")) {
    const std::string name = c.at("model");
    const auto new_ids = c.at("new_ids").get<std::vector<std::vector<int64_t>>>();
    const auto cli = testing::RunCli({"generate", "--model", (SharedDir() / "models" / name).string(), "--prompt-ids",
                                      c.at("prompt_ids").dump(), "--attention-mask", c.at("attention_mask").dump(),
                                      "--gen-length", std::to_string(new_ids.at(0).size())});
    ASSERT_EQ(cli.exit_code, 0) << testing::Describe(cli);
    const auto rows = nlohmann::json::parse(cli.out).at("ids").get<std::vector<std::vector<int64_t>>>();
    ASSERT_EQ(rows.size(), new_ids.size()) << name;
    const size_t width = c.at("prompt_ids").at(0).size();
    for (size_t b = 0; b < rows.size(); ++b) {
      EXPECT_EQ(std::vector<int64_t>(rows[b].begin() + static_cast<std::ptrdiff_t>(width), rows[b].end()), new_ids[b])
          << name << " row " << b;
      // transformers itself gives each row its unpadded tokens here.
      EXPECT_EQ(new_ids[b], c.at("new_ids_unpadded").at(b).get<std::vector<int64_t>>()) << name << " row " << b;
    }
  }
}

// The harness's batched ARM generation: prompts of different lengths in one
// left-padded batch give each row its batch-1 cached decoding, cut at the
// row's first stop id (here: a token each row emits).
TEST(ArmBatchedGenerationTest, RowsOfAPaddedBatchEqualTheirBatchOneDecoding) {
  LLADA_REQUIRE_SHARED();
  for (const char* name : {"tiny-llama", "tiny-mistral", "tiny-qwen2"}) {
    const auto model = LoadModel(name);
    const std::vector<std::vector<int64_t>> prompts = {
        {5, 17, 29, 31, 8, 90, 4, 12, 77, 3, 41, 56}, {9, 2, 44}, {60, 61, 62, 63, 64, 65, 66}};
    const int64_t width = 12, budget = 12;
    auto input = torch::zeros({3, width}, torch::kInt64);
    auto real = torch::zeros({3, width}, torch::kInt64);
    std::vector<std::vector<int64_t>> alone;
    for (int64_t r = 0; r < 3; ++r) {
      const auto& prompt = prompts[static_cast<size_t>(r)];
      const int64_t offset = width - static_cast<int64_t>(prompt.size());
      input[r].slice(0, offset).copy_(torch::tensor(prompt, torch::kInt64));
      real[r].slice(0, offset).fill_(1);
      alone.push_back(GreedyGenerate(*model, prompt, budget, {}));
    }
    const auto batched = GreedyGenerateBatch(*model, input, real, budget);
    for (size_t r = 0; r < 3; ++r) EXPECT_EQ(batched[r], alone[r]) << name << " row " << r;
    // Stops: each row's fourth token; the batch stops once every row has.
    const std::vector<int64_t> stops = {alone[0][3], alone[1][3], alone[2][3]};
    const auto stopped = GreedyGenerateBatch(*model, input, real, budget, stops);
    for (size_t r = 0; r < 3; ++r) {
      const auto first_stop = std::find_first_of(alone[r].begin(), alone[r].end(), stops.begin(), stops.end());
      EXPECT_EQ(stopped[r], std::vector<int64_t>(alone[r].begin(), first_stop + 1)) << name << " row " << r;
    }
  }
}

// The same goldens on a CUDA GPU in float32 (scripts/gpu-check.sh sets
// LLADA_TEST_DEVICE=cuda). Masks are drawn on the CPU generator on every
// device, so Monte-Carlo estimates are comparable; tolerances allow for the
// GPU's different reduction orders. Temperature-sampled generation draws on
// the GPU's generator and is left out.
TEST(CudaParityTest, GoldensHoldOnTheGpu) {
  LLADA_REQUIRE_SHARED();
  const char* wanted = std::getenv("LLADA_TEST_DEVICE");
  if (!wanted || std::string(wanted) != "cuda") GTEST_SKIP() << "set LLADA_TEST_DEVICE=cuda to run on a GPU";
  if (!torch::cuda::is_available()) GTEST_FAIL() << "LLADA_TEST_DEVICE=cuda but LibTorch sees no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  const auto llada = LoadModel("tiny-llada", cuda);
  CheckMonteCarloGoldens(*llada, kGpuTolerance);
  CheckGenerationGoldens(*llada, kGpuTolerance);
  for (const char* name : {"tiny-llama", "tiny-mistral", "tiny-qwen2"}) CheckArmGoldens(name, cuda, kGpuTolerance);
}

}  // namespace
}  // namespace llada
