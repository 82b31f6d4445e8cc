// The CLI's checkpoint-inspection commands (logits, loglik, generate), for
// users debugging a checkpoint and for parity checks against a reference run.
// A plain header: the CLI needs no torch include.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace llada {

struct InspectOptions {
  std::filesystem::path model;
  std::string device = "cpu";
  std::string dtype = "float32";
  std::optional<uint64_t> seed;  // torch::manual_seed immediately before the call
};

// Writes float32 little-endian logits [B, T, V], C order. `causal` runs a
// LLaDA-architecture checkpoint with a causal mask. Returns {"shape": [...]}.
nlohmann::json InspectLogits(const InspectOptions& options, const nlohmann::json& ids,
                             const nlohmann::json& attention_mask, bool causal, const std::filesystem::path& out);

// LLaDA: the Monte-Carlo bound (and the suffix-greedy check); ARM: exact.
// Returns {"loglik", "greedy", "stderr"}.
nlohmann::json InspectLoglik(const InspectOptions& options, const nlohmann::json& prompt_ids,
                             const nlohmann::json& answer_ids, int mc_num, int batch_size, double cfg, bool check_greedy);

// LLaDA: diffusion generation; ARM: greedy for gen_length new tokens.
// Returns {"ids": [[...]]} (prompt and generated tokens).
nlohmann::json InspectGenerate(const InspectOptions& options, const nlohmann::json& prompt_ids,
                               const nlohmann::json& attention_mask, int64_t steps, int64_t gen_length,
                               int64_t block_length, double temperature, double cfg, const std::string& remasking);

}  // namespace llada
