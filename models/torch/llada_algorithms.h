// LLaDA's reference algorithms (ML-GSAI/LLaDA get_log_likelihood.py,
// eval_llada.py, generate.py), ported call for call so that, after
// torch::manual_seed(seed), LibTorch's generators draw exactly the numbers the
// Python reference draws. See ../shared/spec/llada.md sections 3.1-3.3.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "core/request.h"
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
  // Adaptive sampling (opt-in; see LladaLogLikelihoods): the choices of a
  // question draw their rows mc_min at first, then batch_size (one of the
  // reference's stratified batches) at a time, up to mc_num, until a
  // sequential test settles the first place at `confidence`.
  bool adaptive = false;
  int mc_min = 32;
  double confidence = 0.99;
  // Tests only: a forward pass of more tokens fails as if out of device
  // memory (0: never), to exercise the fallback to smaller passes on a CPU.
  int64_t test_out_of_memory_above_tokens = 0;
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
  LikelihoodQuery(std::vector<int64_t> prefix_ids, std::vector<int64_t> target_ids)
      : prefix(std::move(prefix_ids)), target(std::move(target_ids)) {}
  std::vector<int64_t> prefix, target;
  // Adaptive sampling: queries with the same group (>= 0) are the choices of
  // one question, ranked as `ranking` says. Others take mc_num samples.
  int64_t group = -1;
  std::optional<ChoiceRanking> ranking;
};
struct LikelihoodEstimate {
  double loglikelihood = 0.0;
  double standard_error = 0.0;  // over the samples used; 0 when exact
  int64_t rows = 0;             // Monte-Carlo rows (samples) the estimate reads
  double rows_computed = 0.0;   // its share of the rows the model computed (shared rows split evenly)
};

// The one-sided critical value of the adaptive test: the (1 - alpha)
// quantile of Student's t with `dof` degrees of freedom (Cornish-Fisher
// expansion around the normal quantile; within 1 % for dof >= 7 at the
// levels used). Exposed for its test.
double StudentQuantile(double one_minus_alpha, double dof);

// Many estimates at once: every query's masks are drawn first (re-seeding the
// generator with `seed_each` before each query, when given, so an estimate
// does not depend on its batch mates), then the Monte-Carlo rows of all
// queries are packed into shared forward passes (right-padded, padded keys
// masked). One query alone reproduces the reference call for call; packed,
// the estimates agree with one-at-a-time ones to float32 rounding. Rows that
// are identical after masking, within a query or across queries (the
// one-token answers of one question; equal-length choices under equal
// masks), are computed once and read by each.
//
// With options.adaptive, the queries of a group (a question's choices) are
// sampled in rounds: first mc_min rows each, then one stratified batch at a
// time, all of the group's choices together. After each round the leader by
// every rule of the group's ranking (log-likelihood, and per code point)
// must beat each other choice by t * standard error of their difference,
// where the per-row values of two choices with equal row counts are paired
// (under per-request seeding, equal-length choices draw the same masks, so
// the pairing cancels most of the noise) and unpaired otherwise. t is
// Student's quantile at (1 - confidence) / (looks x competitors x rules): a
// Bonferroni bound over every early stop the group could make, so the
// chance that any early stop picks a first place the expected values would
// not is at most 1 - confidence (normal approximation of the row means).
// A stopped estimate is the reference's estimator over the rows used -- the
// first rows of a full run, drawn identically -- with its standard error.
//
// On a GPU the default pass is also capped by free device memory (an
// estimate per token: activations, attention scores, float32 logits), and a
// pass that still runs out of memory is split in halves and retried (said
// once on stderr); a single row that does not fit fails its request alone
// (SampleError).
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
