// Fast-dLLM's decoding modes (cache, threshold, factor, early stop) against
// the testable properties of ../shared/spec/fast_decoding.md section 8: the
// rules' worked vectors, the settings that must reduce to the paper's
// generate.py exactly, the cache wiring, batch invariance and NFE counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "models/checkpoint/model_config.h"
#include "models/torch/llada_algorithms.h"
#include "models/torch/transformer.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::SharedDir;

constexpr int64_t kMask = 500;  // tiny-llada's mask id

std::unique_ptr<Transformer> TinyLlada() {
  const auto dir = SharedDir() / "models" / "tiny-llada";
  return std::make_unique<Transformer>(ReadTransformerConfig(dir), *Checkpoint::Open(dir), torch::kCPU,
                                       torch::kFloat32);
}

// The golden cases' 10-token prompt.
torch::Tensor Prompt() {
  const auto golden = nlohmann::json::parse(testing::ReadFile(SharedDir() / "golden" / "tiny-llada" / "golden.json"));
  return torch::tensor(golden.at("generate").at("cases").at(0).at("prompt").at(0).get<std::vector<int64_t>>(),
                       torch::kInt64)
      .unsqueeze(0);
}

DiffusionGenerateOptions Options(int64_t steps, int64_t gen_length, int64_t block_length) {
  DiffusionGenerateOptions options;
  options.steps = steps;
  options.gen_length = gen_length;
  options.block_length = block_length;
  options.mask_id = kMask;
  return options;
}

struct Generated {
  torch::Tensor tokens;
  int64_t nfe = 0;
};

Generated Generate(const Transformer& model, const torch::Tensor& prompt, const DiffusionGenerateOptions& options,
                   bool fast = true) {
  Generated out;
  out.tokens = (fast ? LladaGenerateFast : LladaGenerate)(model, prompt, options, &out.nfe, std::nullopt);
  return out;
}

std::vector<int64_t> Selected(const torch::Tensor& transfers) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < transfers.size(1); ++i)
    if (transfers[0][i].item<bool>()) indices.push_back(i);
  return indices;
}

// Confidences as the generation loop passes them: -inf where not eligible.
std::pair<torch::Tensor, torch::Tensor> Row(const std::vector<double>& confidence, std::vector<bool> eligible = {}) {
  if (eligible.empty()) eligible.assign(confidence.size(), true);
  auto c = torch::tensor(confidence, torch::kFloat64).unsqueeze(0);
  auto e = torch::zeros({1, static_cast<int64_t>(confidence.size())}, torch::kBool);
  for (size_t i = 0; i < eligible.size(); ++i) e[0][static_cast<int64_t>(i)] = static_cast<bool>(eligible[i]);
  return {torch::where(e, c, torch::full_like(c, -std::numeric_limits<double>::infinity())), e};
}

// P1: spec section 4.5's worked vectors.
TEST(FastDecodingTest, ThresholdAndFactorRulesGiveTheSpecVectors) {
  using V = std::vector<int64_t>;
  auto threshold = [](const std::vector<double>& c, std::vector<bool> e = {}) {
    auto [confidence, eligible] = Row(c, e);
    return Selected(ThresholdTransfers(confidence, eligible, 0.9));
  };
  EXPECT_EQ(threshold({0.95, 0.5, 0.91, 0.9, 0.3}), (V{0, 2, 3}));  // inclusive
  EXPECT_EQ(threshold({0.2, 0.5, 0.5, 0.1}), (V{1}));               // forced, lowest index among ties
  EXPECT_EQ(threshold({0.99, 0.95, 0.2}, {false, true, true}), (V{1}));
  EXPECT_EQ(threshold({0.99, 0.95}, {false, false}), V{});  // nothing eligible: nothing
  auto factor = [](const std::vector<double>& c) {
    auto [confidence, eligible] = Row(c);
    return Selected(FactorTransfers(confidence, eligible, 1.0));
  };
  EXPECT_EQ(factor({0.99, 0.7, 0.6, 0.5, 0.4}), (V{0, 1}));
  EXPECT_EQ(factor({0.9, 0.1}), (V{0, 1}));            // n = 2 commits both
  EXPECT_EQ(factor({0.99, 0.98, 0.2}), (V{0, 1, 2}));  // a failure at the last index still commits all
  EXPECT_EQ(factor({0.99, 0.5, 0.4, 0.3}), (V{0}));
  EXPECT_EQ(factor({0.99, 0.7, 0.76, 0.2, 0.1}), (V{0, 2}));  // by rank, not position
  EXPECT_EQ(factor({0.3}), (V{0}));
}

// P3: the fast loop with the paper's settings gives generate.py's tokens;
// it ends a block once it has no mask, so NFE = blocks * min(S, block_length).
TEST(FastDecodingTest, PaperScheduleThroughTheFastLoopEqualsGenerate) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto prompt = Prompt();
  for (const auto& [steps, gen_length, block_length] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {8, 8, 8}, {16, 16, 4}, {8, 16, 8}, {32, 16, 8}, {4, 16, 16}}) {
    const auto options = Options(steps, gen_length, block_length);
    const auto baseline = Generate(*model, prompt, options, /*fast=*/false);
    const auto fast = Generate(*model, prompt, options);
    const std::string label =
        "steps " + std::to_string(steps) + " G " + std::to_string(gen_length) + " bl " + std::to_string(block_length);
    EXPECT_TRUE(torch::equal(fast.tokens, baseline.tokens)) << label;
    const int64_t blocks = gen_length / block_length;
    EXPECT_EQ(baseline.nfe, steps) << label;
    EXPECT_EQ(fast.nfe, blocks * std::min(steps / blocks, block_length)) << label;
  }
}

// P4: a threshold no confidence reaches commits exactly one token per step:
// the paper's one-token-per-step decoding (steps = G), one pass per token.
TEST(FastDecodingTest, UnreachableThresholdIsOneTokenPerStep) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto prompt = Prompt();
  const auto baseline = Generate(*model, prompt, Options(16, 16, 8), /*fast=*/false);
  auto options = Options(2, 16, 8);  // steps only has to divide evenly in threshold mode
  options.threshold = 2.0;
  const auto fast = Generate(*model, prompt, options);
  EXPECT_TRUE(torch::equal(fast.tokens, baseline.tokens));
  EXPECT_EQ(fast.nfe, 16);
}

// Threshold decoding without a cache against the rule written out plainly:
// per block, until no mask is left, commit every masked block position whose
// softmax probability of its arg-max is >= tau, and at least the most
// confident one. A low tau makes several commits per step on this model.
TEST(FastDecodingTest, ThresholdDecodingMatchesTheRuleWrittenOut) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto prompt = Prompt();
  const int64_t prompt_length = prompt.size(1), gen_length = 16, block_length = 8;
  for (double tau : {0.05, 0.1, 0.3}) {
    auto options = Options(gen_length, gen_length, block_length);
    options.threshold = tau;
    const auto ours = Generate(*model, prompt, options);
    torch::Tensor x = torch::full({1, prompt_length + gen_length}, kMask, torch::kInt64);
    x.slice(1, 0, prompt_length).copy_(prompt);
    int64_t passes = 0;
    for (int64_t start = prompt_length; start < prompt_length + gen_length; start += block_length) {
      while ((x.slice(1, start, start + block_length) == kMask).any().item<bool>()) {
        const auto logits = model->Forward(x)[0];
        ++passes;
        const auto x0 = logits.argmax(-1);
        const auto p = torch::softmax(logits, -1).gather(1, x0.unsqueeze(1)).squeeze(1);
        double best = -1;
        int64_t best_at = -1;
        std::vector<int64_t> commit;
        for (int64_t i = start; i < start + block_length; ++i) {
          if (x[0][i].item<int64_t>() != kMask) continue;
          const double c = p[i].item<double>();
          if (c > best) best = c, best_at = i;
          if (c >= tau) commit.push_back(i);
        }
        if (std::find(commit.begin(), commit.end(), best_at) == commit.end()) commit.push_back(best_at);
        for (int64_t i : commit) x[0][i] = x0[i];
      }
    }
    EXPECT_TRUE(torch::equal(ours.tokens, x)) << "tau " << tau << "\nours " << ours.tokens << "\nrule " << x;
    EXPECT_EQ(ours.nfe, passes) << "tau " << tau;
    if (tau == 0.05) {
      EXPECT_LT(passes, gen_length) << "tau 0.05 never committed two tokens at once: the test shows nothing";
    }
  }
}

// P5: where the cache is never read (every block finished by its first, full
// pass), prefix, dual and no cache give the same tokens, in one pass a block.
TEST(FastDecodingTest, ACacheNeverReadChangesNothing) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto prompt = Prompt();
  std::vector<std::pair<std::string, DiffusionGenerateOptions>> settings;
  settings.push_back({"schedule S=1", Options(2, 16, 8)});
  settings.push_back({"threshold 0", Options(16, 16, 8)});
  settings.back().second.threshold = 0.0;
  settings.push_back({"factor bl+1", Options(16, 16, 8)});
  settings.back().second.factor = 9.0;
  for (auto& [label, options] : settings) {
    const auto none = Generate(*model, prompt, options);
    EXPECT_EQ(none.nfe, 2) << label;
    EXPECT_FALSE((none.tokens == kMask).any().item<bool>()) << label;
    for (DiffusionCache cache : {DiffusionCache::kPrefix, DiffusionCache::kDual}) {
      options.cache = cache;
      const auto cached = Generate(*model, prompt, options);
      EXPECT_TRUE(torch::equal(cached.tokens, none.tokens)) << label << " cache " << static_cast<int>(cache);
      EXPECT_EQ(cached.nfe, 2) << label;
    }
  }
}

// P6: a pass that reads the cache built from a full pass on the same x gives
// the full pass's logits at its rows (positions, RoPE and splice range).
TEST(FastDecodingTest, CachedPassesReproduceTheFullPassOnUnchangedTokens) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  auto x = torch::cat({Prompt(), torch::randint(0, 400, {1, 8}, torch::kInt64), torch::full({1, 16}, kMask)}, 1);
  const int64_t length = x.size(1), start = 14, end = 22;
  for (const bool padded : {false, true}) {
    std::optional<torch::Tensor> mask;
    if (padded) {  // two left pads, masked out as keys
      mask = torch::ones({1, length}, torch::kInt64);
      mask->slice(1, 0, 2).fill_(0);
    }
    KvCache cache;
    const auto full = model->Head(model->Hidden(x, mask, std::nullopt, &cache));
    ASSERT_EQ(cache.length(), length);
    const auto prefix = model->Head(model->HiddenSpliced(x.slice(1, start), start, cache, mask));
    const auto dual = model->Head(model->HiddenSpliced(x.slice(1, start, end), start, cache, mask));
    const auto expect_close = [&](const torch::Tensor& ours, const torch::Tensor& reference, const char* what) {
      const double diff = (ours - reference).abs().max().item<double>();
      EXPECT_LT(diff, 1e-5 * std::max(1.0, reference.abs().max().item<double>())) << what << " padded " << padded;
    };
    expect_close(prefix, full.slice(1, start), "prefix");
    expect_close(dual, full.slice(1, start, end), "dual");
  }
}

// P8 and P10: with one block there is no suffix, so dual equals prefix; a row
// of a batch of identical prompts equals its batch-1 run; no mask is left,
// and a block never takes more than block_length passes.
TEST(FastDecodingTest, OneBlockDualEqualsPrefixAndBatchRowsEqualBatchOne) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto prompt = Prompt();
  for (double tau : {0.05, 0.9}) {
    auto options = Options(16, 16, 16);
    options.threshold = tau;
    options.cache = DiffusionCache::kPrefix;
    const auto prefix = Generate(*model, prompt, options);
    options.cache = DiffusionCache::kDual;
    const auto dual = Generate(*model, prompt, options);
    EXPECT_TRUE(torch::equal(prefix.tokens, dual.tokens)) << "tau " << tau;
    EXPECT_EQ(prefix.nfe, dual.nfe);
  }
  for (DiffusionCache cache : {DiffusionCache::kNone, DiffusionCache::kPrefix, DiffusionCache::kDual}) {
    auto options = Options(16, 32, 8);
    options.threshold = 0.1;
    options.cache = cache;
    const auto one = Generate(*model, prompt, options);
    const auto three = Generate(*model, prompt.repeat({3, 1}), options);
    EXPECT_FALSE((one.tokens == kMask).any().item<bool>());
    EXPECT_LE(one.nfe, 32);
    EXPECT_EQ(three.nfe, one.nfe);
    for (int64_t row = 0; row < 3; ++row)
      EXPECT_TRUE(torch::equal(three.tokens[row], one.tokens[0]))
          << "cache " << static_cast<int>(cache) << " row " << row;
  }
}

// Batched generation across requests: prompts of different lengths,
// left-padded with their pads masked as keys, give each row the tokens it
// gets alone, in the paper's mode and in every fast mode.
TEST(FastDecodingTest, LeftPaddedBatchRowsEqualTheirBatchOneRuns) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto base = Prompt();
  const std::vector<torch::Tensor> prompts = {base, base.slice(1, 3), base.slice(1, 7),
                                              torch::cat({base, base.slice(1, 0, 4)}, 1)};
  const int64_t width = 14, pad = 0;
  auto input = torch::full({4, width}, pad, torch::kInt64);
  auto real = torch::zeros({4, width}, torch::kInt64);
  for (int64_t r = 0; r < 4; ++r) {
    const int64_t length = prompts[static_cast<size_t>(r)].size(1);
    input[r].slice(0, width - length).copy_(prompts[static_cast<size_t>(r)][0]);
    real[r].slice(0, width - length).fill_(1);
  }
  std::vector<std::pair<std::string, DiffusionGenerateOptions>> settings = {{"paper", Options(16, 16, 8)}};
  settings.push_back({"dual 0.1", Options(16, 16, 8)});
  settings.back().second.cache = DiffusionCache::kDual;
  settings.back().second.threshold = 0.1;
  settings.push_back({"prefix factor 1", Options(16, 16, 8)});
  settings.back().second.cache = DiffusionCache::kPrefix;
  settings.back().second.factor = 1.0;
  for (const auto& [label, options] : settings) {
    const auto batched = LladaGenerate(*model, input, options, nullptr, real).slice(1, width);
    for (int64_t r = 0; r < 4; ++r) {
      const auto alone = LladaGenerate(*model, prompts[static_cast<size_t>(r)], options)
                             .slice(1, prompts[static_cast<size_t>(r)].size(1));
      EXPECT_TRUE(torch::equal(batched[r], alone[0]))
          << label << " row " << r << "\nbatched " << batched[r] << "\nalone " << alone[0];
    }
  }
}

// P13: a block that produces EOS ends its row: every later position is EOS,
// the block itself is as without early stop, and later blocks cost nothing.
// The tiny model never emits the real EOS, so a token it does emit stands in.
TEST(FastDecodingTest, EarlyStopFillsWithEosAfterTheBlockAndSkipsLaterPasses) {
  LLADA_REQUIRE_SHARED();
  const auto model = TinyLlada();
  const auto prompt = Prompt();
  const int64_t prompt_length = prompt.size(1);
  auto options = Options(32, 32, 8);
  const auto plain = Generate(*model, prompt, options);
  options.eos_id = plain.tokens[0][prompt_length + 8 + 3].item<int64_t>();  // a token of block 1
  options.eot_id = options.eos_id;
  int64_t first_block = 0;  // the first block holding that token
  while (
      (plain.tokens.slice(1, prompt_length + 8 * first_block, prompt_length + 8 * (first_block + 1)) != options.eos_id)
          .all()
          .item<bool>())
    ++first_block;
  ASSERT_LE(first_block, 1);
  options.early_stop = true;
  const auto stopped = Generate(*model, prompt, options);
  const int64_t end = prompt_length + 8 * (first_block + 1);
  EXPECT_TRUE(torch::equal(stopped.tokens.slice(1, 0, end), plain.tokens.slice(1, 0, end)));
  EXPECT_TRUE((stopped.tokens.slice(1, end) == options.eos_id).all().item<bool>()) << stopped.tokens;
  EXPECT_EQ(stopped.nfe, 8 * (first_block + 1));
  EXPECT_EQ(plain.nfe, 32);
}

TEST(FastDecodingTest, BadSettingsAreUserErrors) {
  auto options = Options(16, 16, 8);
  options.factor = 0.0;
  EXPECT_THROW(CheckGenerateOptions(options), UserError);
  options = Options(16, 16, 8);
  options.cache = DiffusionCache::kDual;
  options.cfg_scale = 1.0;
  EXPECT_THROW(CheckGenerateOptions(options), UserError);
  options = Options(16, 16, 8);
  options.threshold = std::nan("");
  EXPECT_THROW(CheckGenerateOptions(options), UserError);
}

}  // namespace
}  // namespace llada
