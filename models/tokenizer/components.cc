#include "models/tokenizer/components.h"

#include "core/errors.h"
#include "core/text.h"
#include "models/tokenizer/pcre_regex.h"
#include "models/tokenizer/unicode.h"

namespace llada::tokenizer {
namespace {

using nlohmann::json;

[[noreturn]] void Unsupported(const std::string& origin, const std::string& stage, const json& config) {
  throw UserError::InFile(origin, stage, "component type '" + config.value("type", std::string("?")) +
                                             "' is not supported by llada-eval's tokenizer");
}

// A "pattern" object: {"String": "..."} or {"Regex": "..."}.
class Pattern {
 public:
  Pattern(const json& pattern, const std::string& origin) {
    if (pattern.contains("String")) {
      literal_ = pattern.at("String").get<std::string>();
    } else if (pattern.contains("Regex")) {
      regex_ = std::make_unique<PcreRegex>(pattern.at("Regex").get<std::string>(), origin);
    } else {
      throw UserError::InFile(origin, "pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
    }
  }
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const {
    if (regex_) return regex_->FindAll(text);
    std::vector<std::pair<size_t, size_t>> matches;
    if (literal_.empty()) return matches;
    for (size_t pos = text.find(literal_); pos != std::string_view::npos; pos = text.find(literal_, pos + literal_.size()))
      matches.emplace_back(pos, pos + literal_.size());
    return matches;
  }
  std::string ReplaceAll(const std::string& text, const std::string& content) const {
    std::string out;
    size_t prev = 0;
    for (const auto& [begin, end] : FindAll(text)) {
      out.append(text, prev, begin - prev);
      out.append(content);
      prev = end;
    }
    out.append(text, prev, std::string::npos);
    return out;
  }

 private:
  std::string literal_;
  std::unique_ptr<PcreRegex> regex_;
};

// ---------------------------------------------------------------- normalizers

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(std::string form) : form_(std::move(form)) {}
  std::string Normalize(std::string text) const override { return tokenizer::Normalize(text, form_); }

 private:
  std::string form_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Normalize(std::string text) const override { return text.empty() ? text : prefix_ + text; }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& config, const std::string& origin)
      : pattern_(config.at("pattern"), origin), content_(config.at("content").get<std::string>()) {}
  std::string Normalize(std::string text) const override { return pattern_.ReplaceAll(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string text) const override { return PyLower(text); }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string Normalize(std::string text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        uint32_t cp;
        const size_t length = NextCodePoint(text, begin, &cp);
        if (!IsWhitespace(cp)) break;
        begin += length;
      }
    }
    if (right_) {
      size_t content_end = begin;
      for (size_t pos = begin; pos < end;) {
        uint32_t cp;
        pos += NextCodePoint(text, pos, &cp);
        if (!IsWhitespace(cp)) content_end = pos;
      }
      end = content_end;
    }
    return text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string Normalize(std::string text) const override {
    for (const auto& step : steps_) text = step->Normalize(std::move(text));
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

// ------------------------------------------------------------ pre-tokenizers

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior ParseBehavior(const std::string& name, const std::string& origin) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw UserError::InFile(origin, "pre_tokenizer.behavior", "unknown split behavior '" + name + "'");
}

// HF NormalizedString::split: the matches cover the text with (range, is_match)
// entries; the behavior decides how they become pieces. Empty pieces vanish.
std::vector<Piece> SplitPiece(const Piece& piece, const std::vector<std::pair<size_t, size_t>>& found,
                              SplitBehavior behavior, bool invert) {
  struct Span {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Span> spans;
  size_t prev = 0;
  for (const auto& [begin, end] : found) {
    if (prev != begin) spans.push_back({prev, begin, false});
    spans.push_back({begin, end, true});
    prev = end;
  }
  if (prev != piece.text.size()) spans.push_back({prev, piece.text.size(), false});
  if (invert)
    for (auto& span : spans) span.is_match = !span.is_match;

  std::vector<Span> merged;  // is_match now means "remove"
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& s : spans) merged.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::kRemoved:
      merged = spans;
      break;
    case SplitBehavior::kContiguous:
      for (const auto& s : spans) {
        if (s.is_match == previous_match && !merged.empty())
          merged.back().end = s.end;
        else
          merged.push_back({s.begin, s.end, false});
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const auto& s : spans) {
        if (s.is_match && !previous_match && !merged.empty())
          merged.back().end = s.end;
        else
          merged.push_back({s.begin, s.end, false});
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !merged.empty())
          merged.back().begin = it->begin;
        else
          merged.push_back({it->begin, it->end, false});
        previous_match = it->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
  }
  std::vector<Piece> pieces;
  for (const auto& s : merged) {
    if (s.is_match || s.end == s.begin) continue;
    pieces.push_back({piece.text.substr(s.begin, s.end - s.begin), piece.at_start && s.begin == 0});
  }
  return pieces;
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(const json& config, const std::string& origin)
      : pattern_(config.at("pattern"), origin),
        behavior_(ParseBehavior(config.at("behavior").get<std::string>(), origin)),
        invert_(config.value("invert", false)) {}
  std::vector<Piece> PreTokenize(std::vector<Piece> pieces) const override {
    std::vector<Piece> out;
    for (const auto& piece : pieces)
      for (auto& split : SplitPiece(piece, pattern_.FindAll(piece.text), behavior_, invert_)) out.push_back(std::move(split));
    return out;
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// GPT-2's split pattern, used by ByteLevel when use_regex is true.
const char kGpt2Pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(const json& config, const std::string& origin)
      : add_prefix_space_(config.value("add_prefix_space", true)) {
    if (config.value("use_regex", true)) regex_ = std::make_unique<PcreRegex>(kGpt2Pattern, origin);
  }
  std::vector<Piece> PreTokenize(std::vector<Piece> pieces) const override {
    std::vector<Piece> out;
    const auto& table = ByteToUnicode();
    for (auto& piece : pieces) {
      if (add_prefix_space_ && !StartsWith(piece.text, " ")) piece.text.insert(0, " ");
      std::vector<Piece> splits =
          regex_ ? SplitPiece(piece, regex_->FindAll(piece.text), SplitBehavior::kIsolated, false)
                 : std::vector<Piece>{piece};
      for (auto& split : splits) {
        std::string mapped;
        mapped.reserve(split.text.size() * 2);
        for (unsigned char c : split.text) mapped += table[c];
        out.push_back({std::move(mapped), split.at_start});
      }
    }
    return out;
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<PcreRegex> regex_;
};

class RegexSplitPreTokenizer : public PreTokenizer {
 public:
  RegexSplitPreTokenizer(const std::string& pattern, SplitBehavior behavior, const std::string& origin)
      : regex_(pattern, origin), behavior_(behavior) {}
  std::vector<Piece> PreTokenize(std::vector<Piece> pieces) const override {
    std::vector<Piece> out;
    for (const auto& piece : pieces)
      for (auto& split : SplitPiece(piece, regex_.FindAll(piece.text), behavior_, false)) out.push_back(std::move(split));
    return out;
  }

 private:
  PcreRegex regex_;
  SplitBehavior behavior_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(const json& config)
      : replacement_(config.value("replacement", std::string("\u2581"))),
        split_(config.value("split", true)) {
    if (config.contains("prepend_scheme")) {
      scheme_ = config.at("prepend_scheme").get<std::string>();
    } else {
      scheme_ = config.value("add_prefix_space", true) ? "always" : "never";
    }
  }
  std::vector<Piece> PreTokenize(std::vector<Piece> pieces) const override {
    std::vector<Piece> out;
    for (auto& piece : pieces) {
      std::string text = ReplaceAll(piece.text, " ", replacement_);
      if ((scheme_ == "always" || (scheme_ == "first" && piece.at_start)) && !StartsWith(text, replacement_))
        text.insert(0, replacement_);
      Piece replaced{std::move(text), piece.at_start};
      if (!split_) {
        out.push_back(std::move(replaced));
        continue;
      }
      std::vector<std::pair<size_t, size_t>> found;
      for (size_t pos = replaced.text.find(replacement_); pos != std::string::npos;
           pos = replaced.text.find(replacement_, pos + replacement_.size()))
        found.emplace_back(pos, pos + replacement_.size());
      for (auto& split : SplitPiece(replaced, found, SplitBehavior::kMergedWithNext, false)) out.push_back(std::move(split));
    }
    return out;
  }

 private:
  std::string replacement_;
  std::string scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  std::vector<Piece> PreTokenize(std::vector<Piece> pieces) const override {
    for (const auto& step : steps_) pieces = step->PreTokenize(std::move(pieces));
    return pieces;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// ------------------------------------------------------------------ decoders

class ByteLevelDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const auto& token : tokens) {
      std::string token_bytes;
      bool all_mapped = true;
      for (size_t pos = 0; pos < token.size();) {
        uint32_t cp;
        pos += NextCodePoint(token, pos, &cp);
        const int byte = UnicodeToByte(cp);
        if (byte < 0) {
          all_mapped = false;
          break;
        }
        token_bytes.push_back(static_cast<char>(byte));
      }
      bytes += all_mapped ? token_bytes : token;  // an unmapped char: the token's own UTF-8
    }
    return {Utf8Lossy(bytes)};
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& config, const std::string& origin)
      : pattern_(config.at("pattern"), origin), content_(config.at("content").get<std::string>()) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (auto& token : tokens) token = pattern_.ReplaceAll(token, content_);
    return tokens;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (IsValidUtf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (auto& token : tokens) {
      if (token.size() == 6 && StartsWith(token, "<0x") && token[5] == '>' && std::isxdigit(static_cast<unsigned char>(token[3])) &&
          std::isxdigit(static_cast<unsigned char>(token[4]))) {
        pending.push_back(static_cast<char>(std::stoi(token.substr(3, 2), nullptr, 16)));
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    return out;
  }
};

class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::string joined;
    for (const auto& token : tokens) joined += token;
    return {joined};
  }
};

class StripDecoder : public Decoder {
 public:
  explicit StripDecoder(const json& config)
      : content_(config.at("content").get<std::string>()),
        start_(config.value("start", 0)),
        stop_(config.value("stop", 0)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (auto& token : tokens) {
      size_t begin = 0, end = token.size();
      for (int i = 0; i < start_ && StartsWith(std::string_view(token).substr(begin, end - begin), content_); ++i)
        begin += content_.size();
      for (int i = 0; i < stop_ && end - begin >= content_.size() &&
                      EndsWith(std::string_view(token).substr(begin, end - begin), content_);
           ++i)
        end -= content_.size();
      token = token.substr(begin, end - begin);
    }
    return tokens;
  }

 private:
  std::string content_;
  int start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  explicit MetaspaceDecoder(const json& config)
      : replacement_(config.value("replacement", std::string("\u2581"))) {
    const std::string scheme = config.contains("prepend_scheme") ? config.at("prepend_scheme").get<std::string>()
                                                                 : (config.value("add_prefix_space", true) ? "always" : "never");
    strip_first_ = scheme != "never";
  }
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string text = ReplaceAll(tokens[i], replacement_, " ");
      if (i == 0 && strip_first_ && StartsWith(text, " ")) text.erase(0, 1);
      tokens[i] = std::move(text);
    }
    return tokens;
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (const auto& step : steps_) tokens = step->DecodeChain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// ----------------------------------------------------------- post-processors

// ByteLevel's post-processing only trims offsets; ids are unchanged.
class IdentityPostProcessor : public PostProcessor {
 public:
  std::vector<int32_t> Process(std::vector<int32_t> ids, bool) const override { return ids; }
};

class TemplatePostProcessor : public PostProcessor {
 public:
  TemplatePostProcessor(const json& config, const std::string& origin) {
    const auto& special = config.value("special_tokens", json::object());
    for (const auto& item : config.at("single")) {
      if (item.contains("Sequence")) {
        if (item.at("Sequence").value("id", std::string("A")) != "A")
          throw UserError::InFile(origin, "post_processor.single", "only sequence A is supported");
        pieces_.push_back({});
      } else if (item.contains("SpecialToken")) {
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        if (!special.contains(name))
          throw UserError::InFile(origin, "post_processor.special_tokens", "'" + name + "' is not defined");
        pieces_.push_back(special.at(name).at("ids").get<std::vector<int32_t>>());
      } else {
        throw UserError::InFile(origin, "post_processor.single", "unknown template item");
      }
    }
  }
  std::vector<int32_t> Process(std::vector<int32_t> ids, bool add_special_tokens) const override {
    if (!add_special_tokens) return ids;
    std::vector<int32_t> out;
    for (const auto& piece : pieces_) {
      if (piece.empty())
        out.insert(out.end(), ids.begin(), ids.end());
      else
        out.insert(out.end(), piece.begin(), piece.end());
    }
    return out;
  }

 private:
  std::vector<std::vector<int32_t>> pieces_;  // empty vector = the sequence itself
};

class RobertaPostProcessor : public PostProcessor {
 public:
  explicit RobertaPostProcessor(const json& config)
      : cls_(config.at("cls").at(1).get<int32_t>()), sep_(config.at("sep").at(1).get<int32_t>()) {}
  std::vector<int32_t> Process(std::vector<int32_t> ids, bool add_special_tokens) const override {
    if (!add_special_tokens) return ids;
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
    return ids;
  }

 private:
  int32_t cls_, sep_;
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  std::vector<int32_t> Process(std::vector<int32_t> ids, bool add_special_tokens) const override {
    for (const auto& step : steps_) ids = step->Process(std::move(ids), add_special_tokens);
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> BuildNormalizer(const json& config, const std::string& origin) {
  if (config.is_null()) return nullptr;
  const std::string type = config.value("type", "");
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") return std::make_unique<UnicodeNormalizer>(type);
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(config.at("prepend").get<std::string>());
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(config, origin);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Strip") return std::make_unique<StripNormalizer>(config.value("strip_left", true), config.value("strip_right", true));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& step : config.at("normalizers")) steps.push_back(BuildNormalizer(step, origin));
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  Unsupported(origin, "normalizer", config);
}

std::unique_ptr<PreTokenizer> BuildPreTokenizer(const json& config, const std::string& origin) {
  if (config.is_null()) return nullptr;
  const std::string type = config.value("type", "");
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(config, origin);
  if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(config, origin);
  if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(config);
  if (type == "Digits")
    return std::make_unique<RegexSplitPreTokenizer>(config.value("individual_digits", false) ? "\\p{Nd}" : "\\p{Nd}+",
                                                    SplitBehavior::kIsolated, origin);
  if (type == "Whitespace")
    return std::make_unique<RegexSplitPreTokenizer>("\\w+|[^\\w\\s]+", SplitBehavior::kIsolated, origin);
  if (type == "WhitespaceSplit")
    return std::make_unique<RegexSplitPreTokenizer>("\\s+", SplitBehavior::kRemoved, origin);
  if (type == "Punctuation")
    return std::make_unique<RegexSplitPreTokenizer>(
        "[\\p{P}!-/:-@\\[-`{-~]", ParseBehavior(config.value("behavior", std::string("Isolated")), origin), origin);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& step : config.at("pretokenizers")) steps.push_back(BuildPreTokenizer(step, origin));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  Unsupported(origin, "pre_tokenizer", config);
}

std::unique_ptr<Decoder> BuildDecoder(const json& config, const std::string& origin) {
  if (config.is_null()) return nullptr;
  const std::string type = config.value("type", "");
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(config, origin);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(config);
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(config);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& step : config.at("decoders")) steps.push_back(BuildDecoder(step, origin));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  Unsupported(origin, "decoder", config);
}

std::unique_ptr<PostProcessor> BuildPostProcessor(const json& config, const std::string& origin) {
  if (config.is_null()) return nullptr;
  const std::string type = config.value("type", "");
  if (type == "ByteLevel") return std::make_unique<IdentityPostProcessor>();
  if (type == "TemplateProcessing") return std::make_unique<TemplatePostProcessor>(config, origin);
  if (type == "RobertaProcessing") return std::make_unique<RobertaPostProcessor>(config);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const auto& step : config.at("processors")) steps.push_back(BuildPostProcessor(step, origin));
    return std::make_unique<SequencePostProcessor>(std::move(steps));
  }
  Unsupported(origin, "post_processor", config);
}

}  // namespace llada::tokenizer
