#include "models/tokenizer/tokenizer.h"

#include <algorithm>
#include <map>

#include "core/errors.h"
#include "core/file_io.h"
#include "models/tokenizer/bpe.h"
#include "models/tokenizer/components.h"
#include "models/tokenizer/unicode.h"

namespace llada {
namespace {

using tokenizer::Piece;

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A stretch of text, or an added token already resolved to its id.
struct Segment {
  std::string text;
  int32_t id = -1;
  bool at_start = false;
};

nlohmann::json ParseJson(const std::filesystem::path& path) {
  nlohmann::json json = nlohmann::json::parse(ReadInputFile(path), nullptr, false);
  if (json.is_discarded() || !json.is_object()) throw UserError::InFile(path.string(), "", "not a valid JSON object");
  return json;
}

// tokenizer_config.json writes a special token as "<s>" or {"content": "<s>", ...}.
std::optional<std::string> TokenContent(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value.at("content").is_string())
    return value.at("content").get<std::string>();
  return std::nullopt;
}

bool EndsWithWordCharacter(const std::string& text, size_t end) {
  if (end == 0) return false;
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  uint32_t cp;
  tokenizer::NextCodePoint(text, start, &cp);
  return tokenizer::IsWordCharacter(cp);
}

bool StartsWithWordCharacter(const std::string& text, size_t begin) {
  if (begin >= text.size()) return false;
  uint32_t cp;
  tokenizer::NextCodePoint(text, begin, &cp);
  return tokenizer::IsWordCharacter(cp);
}

class HfTokenizer : public Tokenizer {
 public:
  HfTokenizer(const std::filesystem::path& file, const nlohmann::json& config, const nlohmann::json& tokenizer_config)
      : origin_(file.string()), model_(config.at("model"), origin_) {
    normalizer_ = tokenizer::BuildNormalizer(config.value("normalizer", nlohmann::json()), origin_);
    pre_tokenizer_ = tokenizer::BuildPreTokenizer(config.value("pre_tokenizer", nlohmann::json()), origin_);
    post_processor_ = tokenizer::BuildPostProcessor(config.value("post_processor", nlohmann::json()), origin_);
    decoder_ = tokenizer::BuildDecoder(config.value("decoder", nlohmann::json()), origin_);
    for (const auto& entry : config.value("added_tokens", nlohmann::json::array())) AddToken(ParseAdded(entry, entry.at("id").get<int32_t>()));
    // transformers also registers tokenizer_config.json's added_tokens_decoder.
    if (tokenizer_config.contains("added_tokens_decoder")) {
      for (const auto& [id, entry] : tokenizer_config.at("added_tokens_decoder").items()) {
        const int32_t value = std::stoi(id);
        if (!added_by_id_.count(value)) AddToken(ParseAdded(entry, value));
      }
    }
    for (const char* role : {"bos_token", "eos_token", "pad_token", "unk_token", "mask_token", "cls_token", "sep_token"}) {
      if (!tokenizer_config.contains(role)) continue;
      if (auto content = TokenContent(tokenizer_config.at(role)))
        if (auto id = TokenToId(*content)) roles_[role] = *id;
    }
    for (auto& [first_byte, candidates] : by_first_byte_)
      std::sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
        return added_[a].content.size() > added_[b].content.size();
      });
  }

  std::vector<int32_t> Encode(const std::string& text, bool add_special_tokens) const override {
    std::vector<int32_t> ids;
    for (const auto& segment : Segments(text)) {
      if (segment.id >= 0) {
        ids.push_back(segment.id);
        continue;
      }
      for (const auto& piece : PreTokenizePieces({{segment.text, segment.at_start}})) model_.TokenizeInto(piece.text, &ids);
    }
    return post_processor_ ? post_processor_->Process(std::move(ids), add_special_tokens) : ids;
  }

  std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    std::vector<std::string> tokens;
    for (int32_t id : ids) {
      if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
        const AddedToken& token = added_[it->second];
        if (!(skip_special_tokens && token.special)) tokens.push_back(token.content);
      } else if (const std::string* token = model_.IdToToken(id)) {
        tokens.push_back(*token);
      }
      // Unknown ids are dropped, as HF does.
    }
    if (!decoder_) {
      std::string joined;
      for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
      return joined;
    }
    std::string text;
    for (const auto& piece : decoder_->DecodeChain(std::move(tokens))) text += piece;
    return text;
  }

  std::vector<std::string> PreTokenize(const std::string& text) const override {
    std::vector<std::string> pieces;
    for (auto& piece : PreTokenizePieces({{normalizer_ ? normalizer_->Normalize(text) : text, true}}))
      pieces.push_back(std::move(piece.text));
    return pieces;
  }

  std::optional<int32_t> TokenToId(const std::string& token) const override {
    if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return added_[it->second].id;
    return model_.TokenToId(token);
  }

  std::optional<std::string> IdToToken(int32_t id) const override {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return added_[it->second].content;
    if (const std::string* token = model_.IdToToken(id)) return *token;
    return std::nullopt;
  }

  bool IsSpecial(int32_t id) const override {
    auto it = added_by_id_.find(id);
    return it != added_by_id_.end() && added_[it->second].special;
  }

  size_t VocabSize() const override {
    size_t size = model_.VocabSize();
    for (const auto& token : added_) size = std::max(size, static_cast<size_t>(token.id) + 1);
    return size;
  }

  std::optional<int32_t> SpecialId(const std::string& role) const override {
    auto it = roles_.find(role);
    if (it == roles_.end()) return std::nullopt;
    return it->second;
  }

 private:
  static AddedToken ParseAdded(const nlohmann::json& entry, int32_t id) {
    AddedToken token;
    token.id = id;
    token.content = entry.at("content").get<std::string>();
    token.single_word = entry.value("single_word", false);
    token.lstrip = entry.value("lstrip", false);
    token.rstrip = entry.value("rstrip", false);
    token.normalized = entry.value("normalized", false);
    token.special = entry.value("special", false);
    return token;
  }

  void AddToken(AddedToken token) {
    if (token.content.empty()) throw UserError::InFile(origin_, "added_tokens", "empty token content");
    const size_t index = added_.size();
    added_by_id_[token.id] = index;
    added_by_content_[token.content] = index;
    by_first_byte_[static_cast<unsigned char>(token.content[0])].push_back(index);
    added_.push_back(std::move(token));
  }

  std::vector<Piece> PreTokenizePieces(std::vector<Piece> pieces) const {
    return pre_tokenizer_ ? pre_tokenizer_->PreTokenize(std::move(pieces)) : pieces;
  }

  // HF's AddedVocabulary::find_matches + split: leftmost-longest matches of
  // added tokens with `normalized` == the flag, honouring single_word,
  // lstrip and rstrip.
  void SplitOnAdded(const Segment& segment, bool normalized, std::vector<Segment>* out) const {
    const std::string& text = segment.text;
    size_t start_offset = 0;
    for (size_t pos = 0; pos < text.size();) {
      const AddedToken* found = nullptr;
      if (auto it = by_first_byte_.find(static_cast<unsigned char>(text[pos])); it != by_first_byte_.end()) {
        for (size_t index : it->second) {
          const AddedToken& token = added_[index];
          if (token.normalized == normalized && text.compare(pos, token.content.size(), token.content) == 0) {
            found = &token;
            break;
          }
        }
      }
      if (!found) {
        ++pos;
        continue;
      }
      size_t start = pos, stop = pos + found->content.size();
      pos = stop;
      if (found->single_word && (EndsWithWordCharacter(text, start) || StartsWithWordCharacter(text, stop))) continue;
      if (found->lstrip) {
        size_t new_start = start;
        while (new_start > start_offset) {
          size_t prev = new_start - 1;
          while (prev > 0 && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
          uint32_t cp;
          tokenizer::NextCodePoint(text, prev, &cp);
          if (!tokenizer::IsWhitespace(cp)) break;
          new_start = prev;
        }
        start = new_start;
      }
      if (found->rstrip) {
        while (stop < text.size()) {
          uint32_t cp;
          const size_t length = tokenizer::NextCodePoint(text, stop, &cp);
          if (!tokenizer::IsWhitespace(cp)) break;
          stop += length;
        }
        pos = stop;
      }
      if (start_offset < start)
        out->push_back({text.substr(start_offset, start - start_offset), -1, segment.at_start && start_offset == 0});
      out->push_back({found->content, found->id, false});
      start_offset = stop;
    }
    if (start_offset < text.size())
      out->push_back({text.substr(start_offset), -1, segment.at_start && start_offset == 0});
  }

  std::vector<Segment> Segments(const std::string& text) const {
    std::vector<Segment> raw;
    SplitOnAdded({text, -1, true}, /*normalized=*/false, &raw);
    std::vector<Segment> segments;
    for (auto& segment : raw) {
      if (segment.id >= 0) {
        segments.push_back(std::move(segment));
        continue;
      }
      if (normalizer_) segment.text = normalizer_->Normalize(std::move(segment.text));
      SplitOnAdded(segment, /*normalized=*/true, &segments);
    }
    return segments;
  }

  std::string origin_;
  tokenizer::BpeModel model_;
  std::unique_ptr<tokenizer::Normalizer> normalizer_;
  std::unique_ptr<tokenizer::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tokenizer::PostProcessor> post_processor_;
  std::unique_ptr<tokenizer::Decoder> decoder_;
  std::vector<AddedToken> added_;
  std::map<int32_t, size_t> added_by_id_;
  std::map<std::string, size_t> added_by_content_;
  std::map<unsigned char, std::vector<size_t>> by_first_byte_;  // longest first
  std::map<std::string, int32_t> roles_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::Load(const std::filesystem::path& path, const std::string& flag) {
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(path, ec);
  const std::filesystem::path file = is_dir ? path / "tokenizer.json" : path;
  const std::filesystem::path dir = is_dir ? path : path.parent_path();
  if (!std::filesystem::exists(file, ec))
    throw UserError::InFile(file.string(), flag,
                            is_dir ? "no tokenizer.json in this directory (a Hugging Face checkpoint ships one)"
                                   : "tokenizer.json not found");
  const nlohmann::json config = ParseJson(file);
  if (!config.contains("model") || !config.at("model").is_object())
    throw UserError::InFile(file.string(), "model", "missing");
  // tokenizer_config.json is optional; special_tokens_map.json is not read
  // (some upstream copies are not even valid JSON, e.g. LLaDA-8B-Base's).
  nlohmann::json tokenizer_config = nlohmann::json::object();
  if (std::filesystem::exists(dir / "tokenizer_config.json", ec)) tokenizer_config = ParseJson(dir / "tokenizer_config.json");
  return std::make_unique<HfTokenizer>(file, config, tokenizer_config);
}

}  // namespace llada
