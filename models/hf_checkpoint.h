// A Hugging Face checkpoint directory read as far as it can be without
// LibTorch: config.json, the tokenizer, the fingerprints that identify the
// files and, for a model computing in float32 on the CPU, the weights widened
// to float32. The command line reads it while LibTorch loads on another
// thread (models/torch_backend.h); the LibTorch backends build on it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "models/checkpoint/model_config.h"
#include "models/checkpoint/safetensors.h"
#include "models/model.h"
#include "models/tokenizer/tokenizer.h"

namespace llada {

struct HfCheckpoint {
  std::filesystem::path dir;
  TransformerConfig config;
  std::unique_ptr<Checkpoint> weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string weights_fingerprint;  // WeightsFingerprint(dir)
  std::string tokenizer_sha;        // tokenizer.json's SHA-256
};

// Throws UserError naming the file and field (a missing tokenizer.json fails
// before any weight is widened).
HfCheckpoint ReadHfCheckpoint(const ModelOptions& options);

// A fingerprint of the weights without reading 16 GB: config.json, every
// shard's header and size, and the first and last 4 MiB of every shard.
std::string WeightsFingerprint(const std::filesystem::path& dir);

}  // namespace llada
