// Tokenizer: a faithful engine for Hugging Face tokenizer.json files.
//
// The pipeline is HF `tokenizers`' own: added tokens are split off first
// (non-normalized ones on the raw text, normalized ones after normalizing),
// then normalizer -> pre-tokenizer -> model (BPE) -> post-processor; decoding
// maps ids back to tokens and runs the decoder chain. A component the engine
// does not implement is a UserError naming it, never a silent divergence.
// No LibTorch here: the harness, tasks and CLI may use it freely.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llada {

class Tokenizer {
 public:
  // `path`: a tokenizer.json, or a directory holding one (its
  // tokenizer_config.json, when present, adds special-token roles).
  static std::unique_ptr<Tokenizer> Load(const std::filesystem::path& path, const std::string& flag = "--tokenizer");
  virtual ~Tokenizer() = default;

  virtual std::vector<int32_t> Encode(const std::string& text, bool add_special_tokens) const = 0;
  virtual std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const = 0;

  // The pre-tokenizer's pieces (after normalization and the byte-level
  // mapping), as HF's pre_tokenize_str shows them. For tests and debugging.
  virtual std::vector<std::string> PreTokenize(const std::string& text) const = 0;

  virtual std::optional<int32_t> TokenToId(const std::string& token) const = 0;
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;
  virtual bool IsSpecial(int32_t id) const = 0;
  virtual size_t VocabSize() const = 0;  // base vocabulary plus added tokens

  // Special-token roles from tokenizer_config.json ("bos_token", "eos_token",
  // "pad_token", "mask_token", ...), when the token is in the vocabulary.
  virtual std::optional<int32_t> SpecialId(const std::string& role) const = 0;
};

}  // namespace llada
