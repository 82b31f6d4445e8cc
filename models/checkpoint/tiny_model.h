// Writes a random checkpoint in the exact Hugging Face layout of a
// supported family (config.json, generation_config.json, model.safetensors
// with the real tensor names in BF16, a byte-level BPE tokenizer.json and a
// tokenizer_config.json with the family's chat template). The quickstart and
// the end-to-end tests evaluate with it: real code paths, seconds on a CPU.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace llada {

struct InitModelOptions {
  std::string family = "llada";  // llada, llama, mistral, qwen2
  int64_t layers = 2;
  int64_t d_model = 64;
  int64_t heads = 4;
  int64_t kv_heads = 0;  // 0: LLaDA all heads (MHA), the ARM families half (GQA)
  int64_t ffn = 0;       // 0: 2 x d_model
  int64_t vocab = 272;   // at least the 256 byte tokens and 6 special tokens
  uint64_t seed = 20250214;
};

// Throws UserError for an unknown family or an impossible shape.
void WriteRandomModel(const InitModelOptions& options, const std::filesystem::path& dir);

}  // namespace llada
