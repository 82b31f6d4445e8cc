// One transformer for every supported family, configured by
// TransformerConfig: LLaDA (bidirectional) and the causal ARM baselines
// (GQA, optional q/k/v bias, tied or untied head, optional KV cache).
// This header includes LibTorch: only models/ may include it.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <optional>
#include <vector>

#include "models/checkpoint/model_config.h"
#include "models/checkpoint/safetensors.h"

namespace llada {

// "cpu", "cuda", "cuda:N" (UserError when CUDA is not available), and "auto"
// (float32 on the CPU, bfloat16 on CUDA), "float32", "bfloat16", "float16".
torch::Device ParseDevice(const std::string& device);
torch::ScalarType ParseDtype(const std::string& dtype, const torch::Device& device);

// Keys and values of every layer (after RoPE): for the tokens seen so far
// (ARM decoding), or of one full bidirectional pass (LLaDA's block caches,
// Fast-dLLM; see HiddenSpliced).
// Picks the positions whose hidden states a caller reads from a [B, T, H]
// tensor (a slice, or boolean indexing over [B, T]); it may select rows and
// positions, never mix them.
using PositionReader = std::function<torch::Tensor(const torch::Tensor&)>;

struct KvCache {
  std::vector<torch::Tensor> keys, values;  // per layer: [B, kv_heads, S, head_dim]
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
};

class Transformer {
 public:
  // Loads every weight into `dtype` on `device`, one tensor at a time from the
  // memory-mapped checkpoint (peak memory: the model plus one tensor).
  Transformer(TransformerConfig config, const Checkpoint& checkpoint, torch::Device device, torch::ScalarType dtype);

  const TransformerConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }

  // Logits [B, T, V] in float32. `attention_mask` [B, T] (1 = token, 0 = pad)
  // masks padded keys. `position_ids` [B, T] defaults to 0..T-1 (after the
  // cached length). With `cache`, a causal model appends this pass's keys and
  // values to it; a bidirectional one (LLaDA) stores them in an empty cache.
  torch::Tensor Forward(const torch::Tensor& input_ids,
                        const std::optional<torch::Tensor>& attention_mask = std::nullopt,
                        const std::optional<torch::Tensor>& position_ids = std::nullopt,
                        KvCache* cache = nullptr) const {
    return Head(Hidden(input_ids, attention_mask, position_ids, cache));
  }

  // The final-normed hidden states [B, T, H] (Forward without the head), so
  // callers can apply the head only where logits are read. With `read`, only
  // the states it picks: the last layer's attention output projection and
  // feed-forward then run only there, and, in a bidirectional float32 model,
  // its queries too (every position's keys and values are still computed):
  // up to an eighth of an 8-layer pass saved when few positions are read.
  torch::Tensor Hidden(const torch::Tensor& input_ids,
                       const std::optional<torch::Tensor>& attention_mask = std::nullopt,
                       const std::optional<torch::Tensor>& position_ids = std::nullopt, KvCache* cache = nullptr,
                       const PositionReader& read = nullptr) const;
  // LLaDA's cached pass (Fast-dLLM's prefix and dual caches): the T tokens
  // `input_ids` stand at positions [splice_at, splice_at + T), and attend to
  // the cached keys and values with those columns replaced by their own fresh
  // ones (appended, where the cache ends at splice_at). The cache is unchanged.
  // `attention_mask` [B, S] covers every key after the splice.
  torch::Tensor HiddenSpliced(const torch::Tensor& input_ids, int64_t splice_at, const KvCache& cache,
                              const std::optional<torch::Tensor>& attention_mask = std::nullopt) const;
  // The LM head: [..., H] -> float32 logits [..., V].
  torch::Tensor Head(const torch::Tensor& hidden) const;

 private:
  struct Layer {
    torch::Tensor attn_norm, q, k, v, o, q_bias, k_bias, v_bias, ffn_norm, gate, up, down;
  };
  torch::Tensor Load(const Checkpoint& checkpoint, const std::string& name) const;
  // Hidden and HiddenSpliced: `cache` is appended to (or filled), `splice`
  // read with its columns from `splice_at` replaced; at most one of them.
  torch::Tensor Layers(const torch::Tensor& input_ids, const std::optional<torch::Tensor>& attention_mask,
                       const std::optional<torch::Tensor>& position_ids, KvCache* cache, const KvCache* splice,
                       int64_t splice_at, const PositionReader& read) const;

  TransformerConfig config_;
  torch::Device device_;
  torch::ScalarType dtype_;
  torch::Tensor embedding_, final_norm_, lm_head_, inv_freq_;
  std::vector<Layer> layers_;
};

}  // namespace llada
