// Writes a tiny random checkpoint in the exact Hugging Face layout of a
// supported family (config.json, generation_config.json, model.safetensors
// with the real tensor names in BF16, a byte-level BPE tokenizer.json and a
// tokenizer_config.json with the family's chat template). The quickstart and
// the end-to-end tests evaluate with it: real code paths, seconds on a CPU.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace llada {

// family: "llada", "llama", "mistral" or "qwen2". Throws UserError.
void WriteTinyModel(const std::string& family, const std::filesystem::path& dir, uint64_t seed);

}  // namespace llada
