// Exact log-likelihood and greedy decoding for causal (ARM) models, as
// lm-evaluation-harness's HFLM and transformers' greedy search compute them.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/torch/transformer.h"

namespace llada {

struct CausalLoglikelihood {
  double loglikelihood = 0.0;  // float32 sum of the continuation's log-probs
  bool is_greedy = false;      // argmax equals the continuation at every position
  std::vector<float> token_logprobs;
  std::vector<int64_t> greedy_tokens;
};

// HFLM._loglikelihood_tokens for one request: input (context + continuation)[:-1],
// log_softmax in float32, the last len(continuation) positions.
CausalLoglikelihood CausalLogLikelihood(const Transformer& model, const std::vector<int64_t>& context,
                                        const std::vector<int64_t>& continuation);

struct CausalQuery {
  std::vector<int64_t> context, continuation;
};

// Several requests in one forward pass, right-padded as HFLM pads them: a
// causal row never attends to the pads after it, so no mask is needed and each
// row's numbers equal its unpadded ones up to float rounding.
std::vector<CausalLoglikelihood> CausalLogLikelihoods(const Transformer& model, const std::vector<CausalQuery>& queries);

// Greedy decoding with a KV cache: the prompt in one forward, then one token
// per step. Stops after `max_new_tokens` or at any id in `stop_ids`
// (included in the output). Returns the new tokens only.
std::vector<int64_t> GreedyGenerate(const Transformer& model, const std::vector<int64_t>& prompt, int64_t max_new_tokens,
                                    const std::vector<int64_t>& stop_ids, std::vector<int64_t>* step_input_lengths = nullptr);

// Greedy decoding of a left-padded batch as transformers v4.39's generate does
// it: `attention_mask` [B, T] (1 = token) masks the pads as keys in the
// prefill and in every cached step (the mask grows by a 1 per step), and
// positions are cumsum(mask) - 1 with the pads at 1. `max_new_tokens` per
// row, or fewer once every row has produced one of `stop_ids` (each row then
// ends at its first stop id, included). Returns the new tokens per row.
std::vector<std::vector<int64_t>> GreedyGenerateBatch(const Transformer& model, const torch::Tensor& prompt_ids,
                                                      const torch::Tensor& attention_mask, int64_t max_new_tokens,
                                                      const std::vector<int64_t>& stop_ids = {});

}  // namespace llada
