// The pipeline stages of a tokenizer.json, each built from its JSON object.
// Build*() throw UserError naming an unsupported component type.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llada::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string Normalize(std::string text) const = 0;
};

// One piece of a pre-tokenized string. `at_start`: the piece begins the
// original text (Metaspace's prepend_scheme "first" needs it).
struct Piece {
  std::string text;
  bool at_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual std::vector<Piece> PreTokenize(std::vector<Piece> pieces) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF's decode_chain: tokens in, tokens out (joined by the caller).
  virtual std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const = 0;
};

// Adds special tokens around an encoded sequence.
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int32_t> Process(std::vector<int32_t> ids, bool add_special_tokens) const = 0;
};

// `origin` names the file for error messages; null JSON yields nullptr.
std::unique_ptr<Normalizer> BuildNormalizer(const nlohmann::json& config, const std::string& origin);
std::unique_ptr<PreTokenizer> BuildPreTokenizer(const nlohmann::json& config, const std::string& origin);
std::unique_ptr<Decoder> BuildDecoder(const nlohmann::json& config, const std::string& origin);
std::unique_ptr<PostProcessor> BuildPostProcessor(const nlohmann::json& config, const std::string& origin);

}  // namespace llada::tokenizer
