// BPE as HF tokenizers implements it (models/bpe/model.rs): a word starts as
// one symbol per character (byte_fallback to <0xXX> tokens, unk fused or not),
// then merges apply lowest rank first, leftmost first among equal ranks.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace llada::tokenizer {

class BpeModel {
 public:
  // `model`: tokenizer.json's "model" object. Throws UserError naming `origin`.
  BpeModel(const nlohmann::json& model, const std::string& origin);

  // Appends the ids of one pre-token to `out`. Results are cached per
  // pre-token, so a repeated word costs one hash lookup and no allocation.
  void TokenizeInto(const std::string& word, std::vector<int32_t>* out) const;

  std::optional<int32_t> TokenToId(const std::string& token) const;
  const std::string* IdToToken(int32_t id) const;
  size_t VocabSize() const { return id_to_token_.size(); }

 private:
  std::vector<int32_t> MergeWord(const std::string& word) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  // (left id, right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace llada::tokenizer
