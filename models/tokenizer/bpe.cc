#include "models/tokenizer/bpe.h"

#include <queue>

#include "core/errors.h"
#include "models/tokenizer/unicode.h"

namespace llada::tokenizer {
namespace {

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

constexpr size_t kCacheLimit = 1 << 18;  // pre-tokens; the cache is dropped when full

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, const std::string& origin) {
  if (model.value("type", std::string("BPE")) != "BPE")
    throw UserError::InFile(origin, "model.type",
                            "'" + model.value("type", std::string()) + "' is not supported (only BPE)");
  if (!model.value("dropout", nlohmann::json()).is_null())
    throw UserError::InFile(origin, "model.dropout", "BPE dropout is not supported");
  for (const auto& [token, id] : model.at("vocab").items()) {
    const int32_t value = id.get<int32_t>();
    vocab_[token] = value;
    if (value < 0) throw UserError::InFile(origin, "model.vocab", "negative id for '" + token + "'");
    if (static_cast<size_t>(value) >= id_to_token_.size()) id_to_token_.resize(static_cast<size_t>(value) + 1);
    id_to_token_[static_cast<size_t>(value)] = token;
  }
  auto optional_string = [&](const char* field) {
    return model.contains(field) && model.at(field).is_string() ? model.at(field).get<std::string>() : std::string();
  };
  continuing_subword_prefix_ = optional_string("continuing_subword_prefix");
  end_of_word_suffix_ = optional_string("end_of_word_suffix");
  byte_fallback_ = model.value("byte_fallback", false);
  fuse_unk_ = model.value("fuse_unk", false);
  ignore_merges_ = model.value("ignore_merges", false);
  if (const std::string unk = optional_string("unk_token"); !unk.empty()) {
    auto it = vocab_.find(unk);
    if (it == vocab_.end()) throw UserError::InFile(origin, "model.unk_token", "'" + unk + "' is not in the vocabulary");
    unk_id_ = it->second;
  }
  const auto& merges = model.at("merges");
  merges_.reserve(merges.size());
  const size_t prefix_length = continuing_subword_prefix_.size();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    std::string left, right;
    const auto& merge = merges[rank];
    if (merge.is_string()) {  // "a b"
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ', 1);
      if (space == std::string::npos)
        throw UserError::InFile(origin, "model.merges[" + std::to_string(rank) + "]", "expected \"left right\"");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else {  // ["a", "b"]
      left = merge.at(0).get<std::string>();
      right = merge.at(1).get<std::string>();
    }
    auto left_id = vocab_.find(left), right_id = vocab_.find(right);
    // The merged token drops the right side's continuing-subword prefix.
    const std::string merged = left + (prefix_length && right.compare(0, prefix_length, continuing_subword_prefix_) == 0
                                           ? right.substr(prefix_length)
                                           : right);
    auto merged_id = vocab_.find(merged);
    if (left_id == vocab_.end() || right_id == vocab_.end() || merged_id == vocab_.end())
      throw UserError::InFile(origin, "model.merges[" + std::to_string(rank) + "]",
                              "merge of tokens missing from the vocabulary: '" + left + "' '" + right + "'");
    merges_.emplace(PairKey(left_id->second, right_id->second),
                    std::make_pair(static_cast<int32_t>(rank), merged_id->second));
  }
}

std::optional<int32_t> BpeModel::TokenToId(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || id_to_token_[static_cast<size_t>(id)].empty())
    return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::TokenizeInto(const std::string& word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = MergeWord(word);
  out->insert(out->end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(word, std::move(ids));
}

std::vector<int32_t> BpeModel::MergeWord(const std::string& word) const {
  struct Symbol {
    int32_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int32_t id) {
    const int index = static_cast<int>(symbols.size());
    if (index > 0) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, true});
  };
  int32_t pending_unk = -1;  // an unk not yet added (held back so fuse_unk can merge runs)
  std::string piece;
  for (size_t pos = 0; pos < word.size();) {
    uint32_t cp;
    const size_t length = NextCodePoint(word, pos, &cp);
    const bool first = pos == 0, last = pos + length >= word.size();
    piece.assign(word, pos, length);
    if (!first && !continuing_subword_prefix_.empty()) piece.insert(0, continuing_subword_prefix_);
    if (last && !end_of_word_suffix_.empty()) piece += end_of_word_suffix_;
    pos += length;
    if (auto it = vocab_.find(piece); it != vocab_.end()) {
      if (pending_unk >= 0) {
        add(pending_unk);
        pending_unk = -1;
      }
      add(it->second);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (unsigned char c : piece) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", c);
        auto it = vocab_.find(name);
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == piece.size()) {
        for (int32_t id : bytes) add(id);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = *unk_id_;
    }
    // No unk token: HF drops the character.
  }
  if (pending_unk >= 0) add(pending_unk);

  struct Merge {
    int32_t rank;
    int pos;
    int32_t merged;
    bool operator>(const Merge& other) const { return rank != other.rank ? rank > other.rank : pos > other.pos; }
  };
  std::priority_queue<Merge, std::vector<Merge>, std::greater<Merge>> queue;
  auto push_pair = [&](int left) {
    const int right = symbols[static_cast<size_t>(left)].next;
    if (right < 0) return;
    auto it = merges_.find(PairKey(symbols[static_cast<size_t>(left)].id, symbols[static_cast<size_t>(right)].id));
    if (it != merges_.end()) queue.push({it->second.first, left, it->second.second});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) push_pair(i);
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    // Skip entries made stale by an earlier merge.
    auto it = merges_.find(PairKey(left.id, right.id));
    if (it == merges_.end() || it->second.second != top.merged) continue;
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  std::vector<int32_t> ids;
  for (const auto& symbol : symbols)
    if (symbol.alive) ids.push_back(symbol.id);
  return ids;
}

}  // namespace llada::tokenizer
