// One transformer description for every supported family, read from a
// checkpoint's config.json (+ generation_config.json), with the tensor names
// each family uses. LLaDA is a bidirectional Llama-style block; the ARM
// baselines (Llama, Mistral, Qwen2) are causal with GQA, Qwen2 adds q/k/v
// biases. Missing config fields take transformers v4.39's defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/checkpoint/safetensors.h"

namespace llada {

enum class ModelFamily { kLLaDA, kLlama, kMistral, kQwen2 };

struct LayerTensorNames {
  std::string attn_norm, q, k, v, o, q_bias, k_bias, v_bias, ffn_norm, gate, up, down;
};

struct TransformerConfig {
  ModelFamily family = ModelFamily::kLlama;
  std::string architecture;  // config.json "architectures"[0]
  int64_t vocab_size = 0;    // rows of the embedding and the head (LLaDA: embedding_size)
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t max_positions = 2048;
  std::optional<int64_t> sliding_window;  // Mistral: keys more than this far back are masked
  bool causal = true;                     // false for LLaDA (bidirectional)
  bool qkv_bias = false;
  bool tied_embeddings = false;
  std::optional<int64_t> bos_token_id, eos_token_id, pad_token_id, mask_token_id;
  std::vector<int64_t> eos_token_ids;  // generation_config.json may list several

  std::string embedding_name, final_norm_name, lm_head_name;
  std::vector<LayerTensorNames> layers;
};

// Reads <dir>/config.json (and generation_config.json when present). Throws
// UserError naming the file and field for a missing or unsupported value.
TransformerConfig ReadTransformerConfig(const std::filesystem::path& dir);

// Every tensor the config implies, with its shape (a tied head is not listed twice).
std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedTensors(const TransformerConfig& config);

// Every tensor the config implies exists with the shape it implies; errors
// name the tensor and the shard file.
void ValidateCheckpoint(const TransformerConfig& config, const Checkpoint& checkpoint);

}  // namespace llada
