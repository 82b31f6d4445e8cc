// LLaDA's reference algorithms (ML-GSAI/LLaDA get_log_likelihood.py,
// eval_llada.py, generate.py), ported call for call so that, after
// torch::manual_seed(seed), LibTorch's generators draw exactly the numbers the
// Python reference draws. See ../shared/spec/llada.md sections 3.1-3.3.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "models/torch/transformer.h"

namespace llada {

struct MonteCarloOptions {
  int mc_num = 128;
  int batch_size = 32;     // must divide mc_num
  double cfg_scale = 0.0;  // classifier-free guidance; 0 = off
  int64_t mask_id = 126336;
  // Rows x padded length of one packed forward pass; 0 = batch_size (GPU) or
  // min(batch_size, 4) (CPU) rows of the longest query.
  int64_t max_batch_tokens = 0;
};

// forward_process: the stratified random masking of one Monte-Carlo batch.
// Returns the noisy batch [b, l] and p_mask [b, l].
std::pair<torch::Tensor, torch::Tensor> LladaForwardProcess(const torch::Tensor& batch,
                                                            const torch::Tensor& prompt_index, int64_t mask_id);

// The Monte-Carlo estimate of log p(target | prefix) (get_log_likelihood).
// A one-token target takes a single forward pass (the bound is then exact).
// `standard_error`, when given, receives the sample standard error of the
// estimate over its mc_num samples (0 for the exact one-token case).
double LladaLogLikelihood(const Transformer& model, const std::vector<int64_t>& prefix,
                          const std::vector<int64_t>& target, const MonteCarloOptions& options,
                          double* standard_error = nullptr);

// Throw UserError naming the setting when the options cannot run; the
// algorithms call them, and the backend calls them as soon as settings change.
void CheckMonteCarloOptions(const MonteCarloOptions& options);

struct LikelihoodQuery {
  std::vector<int64_t> prefix, target;
};
struct LikelihoodEstimate {
  double loglikelihood = 0.0;
  double standard_error = 0.0;  // over the mc_num samples; 0 when exact
  int64_t rows = 0;             // Monte-Carlo rows the estimate reads
  double rows_computed = 0.0;   // its share of the rows the model computed (shared rows split evenly)
};

// Many estimates at once: every query's masks are drawn first (re-seeding the
// generator with `seed_each` before each query, when given, so an estimate
// does not depend on its batch mates), then the Monte-Carlo rows of all
// queries are packed into shared forward passes (right-padded, padded keys
// masked). One query alone reproduces the reference call for call; packed,
// the estimates agree with one-at-a-time ones to float32 rounding. Rows that
// are identical after masking, within a query or across queries (the
// one-token answers of one question; equal-length choices under equal
// masks), are computed once and read by each.
std::vector<LikelihoodEstimate> LladaLogLikelihoods(const Transformer& model,
                                                    const std::vector<LikelihoodQuery>& queries,
                                                    const MonteCarloOptions& options,
                                                    std::optional<uint64_t> seed_each = std::nullopt);

// eval_llada.py's suffix_greedy_prediction: would greedy unmasking, one most
// confident token per step, reproduce the target?
bool LladaSuffixGreedy(const Transformer& model, const std::vector<int64_t>& prefix, const std::vector<int64_t>& target,
                       const MonteCarloOptions& options, std::vector<int64_t>* greedy_tokens = nullptr);

// Fast-dLLM's block caches (../shared/spec/fast_decoding.md sections 2-3):
// each block starts with a full forward pass that also stores every layer's
// keys and values; its later steps recompute only the block and everything
// after it (prefix) or only the block (dual), reading the rest from the cache.
enum class DiffusionCache { kNone, kPrefix, kDual };

struct DiffusionGenerateOptions {
  int64_t steps = 128;
  int64_t gen_length = 128;
  int64_t block_length = 128;
  double temperature = 0.0;
  double cfg_scale = 0.0;
  std::string remasking = "low_confidence";  // or "random"
  int64_t mask_id = 126336;
  // Reference toggles for Instruct models: ban EOS outright, or give EOS/EoT
  // confidence 0 (committed last). Ids: eos 126081, eot 126348 for LLaDA-8B.
  bool logits_eos_inf = false;
  bool confidence_eos_eot_inf = false;
  int64_t eos_id = 126081;
  int64_t eot_id = 126348;
  // Fast modes (defaults: generate.py). Confidence-threshold parallel
  // decoding commits every masked position of the block whose confidence is
  // >= threshold, and at least the most confident one; the factor rule
  // (Fast-dLLM) commits the largest n whose n-th best confidence c satisfies
  // (n + 1)(1 - c) <= factor, and wins over threshold. Either way a block
  // takes at most block_length steps and `steps` only has to divide evenly.
  DiffusionCache cache = DiffusionCache::kNone;
  std::optional<double> threshold;
  std::optional<double> factor;
  // After each block, a row whose block holds EOS or EoT gets EOS in every
  // later position; once every row has, generation stops (dInfer).
  bool early_stop = false;

  bool PaperMode() const { return cache == DiffusionCache::kNone && !threshold && !factor && !early_stop; }
};
void CheckGenerateOptions(const DiffusionGenerateOptions& options);

// The transfer rules of one step, on confidences [B, W] (-inf where a
// position may not be committed) and the eligible positions [B, W]: which
// positions to commit. Exposed for the spec's worked vectors.
torch::Tensor ThresholdTransfers(const torch::Tensor& confidence, const torch::Tensor& eligible, double threshold);
torch::Tensor FactorTransfers(const torch::Tensor& confidence, const torch::Tensor& eligible, double factor);

// generate(): iterative low-confidence remasking over blocks. `prompt` [B, Lp]
// (left-padded to equal lengths; `attention_mask` [B, Lp] marks real tokens,
// and padded keys are masked out). Returns [B, Lp + gen_length].
// `forward_calls` counts model calls (NFE). The paper's mode runs
// generate.py's loop call for call; any fast setting runs LladaGenerateFast.
torch::Tensor LladaGenerate(const Transformer& model, const torch::Tensor& prompt,
                            const DiffusionGenerateOptions& options, int64_t* forward_calls = nullptr,
                            const std::optional<torch::Tensor>& attention_mask = std::nullopt);

// Fast-dLLM's generate / generate_with_prefix_cache / generate_with_dual_cache
// in one loop: a block ends as soon as it has no mask left (so in the paper's
// schedule it takes min(steps per block, block_length) forward passes), the
// block-start forward pass counts as a step, and threshold and factor blocks
// run until done (at most block_length steps) instead of Fast-dLLM's cap.
// With the paper's settings it gives generate.py's tokens.
torch::Tensor LladaGenerateFast(const Transformer& model, const torch::Tensor& prompt,
                                const DiffusionGenerateOptions& options, int64_t* forward_calls = nullptr,
                                const std::optional<torch::Tensor>& attention_mask = std::nullopt);

}  // namespace llada
