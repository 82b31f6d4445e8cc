#include "models/checkpoint/tiny_model.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/py_random.h"
#include "models/checkpoint/model_config.h"
#include "models/tokenizer/unicode.h"

namespace llada {
namespace {

const std::vector<std::string> kSpecialTokens = {"<|startoftext|>", "<|endoftext|>",     "<|mdm_mask|>",
                                                 "<|eot_id|>",      "<|start_header_id|>", "<|end_header_id|>"};
constexpr int64_t kBos = 256, kEos = 257, kMask = 258;

uint16_t ToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

nlohmann::json TokenizerJson() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[tokenizer::ByteToUnicode()[static_cast<size_t>(b)]] = b;
  nlohmann::json added = nlohmann::json::array();
  for (size_t i = 0; i < kSpecialTokens.size(); ++i) {
    added.push_back({{"id", 256 + static_cast<int>(i)}, {"content", kSpecialTokens[i]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
            {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
}

nlohmann::json ConfigJson(const InitModelOptions& o) {
  const std::string& family = o.family;
  const int64_t ffn = o.ffn > 0 ? o.ffn : 2 * o.d_model;
  if (family == "llada") {
    return {{"architectures", {"LLaDAModelLM"}}, {"model_type", "llada"}, {"d_model", o.d_model}, {"n_layers", o.layers},
            {"n_heads", o.heads}, {"n_kv_heads", o.kv_heads > 0 ? o.kv_heads : o.heads}, {"mlp_hidden_size", ffn},
            {"mlp_ratio", 4}, {"activation_type", "silu"}, {"block_type", "llama"}, {"vocab_size", o.vocab},
            {"embedding_size", o.vocab},
            {"weight_tying", false}, {"layer_norm_type", "rms"}, {"rms_norm_eps", 1e-5}, {"rope", true},
            {"rope_theta", 500000.0}, {"rope_full_precision", true}, {"alibi", false}, {"include_bias", false},
            {"include_qkv_bias", false}, {"scale_logits", false}, {"attention_layer_norm", false},
            {"max_sequence_length", 4096}, {"mask_token_id", kMask}, {"eos_token_id", kEos}, {"pad_token_id", kEos},
            {"use_cache", false}};
  }
  const std::map<std::string, std::string> architectures = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}};
  auto it = architectures.find(family);
  if (it == architectures.end())
    throw UserError("init-model: unknown --arch '" + family + "' (llada, llama, mistral, qwen2)");
  nlohmann::json config = {{"architectures", {it->second}}, {"model_type", family}, {"hidden_size", o.d_model},
                           {"num_hidden_layers", o.layers}, {"num_attention_heads", o.heads},
                           {"num_key_value_heads", o.kv_heads > 0 ? o.kv_heads : std::max<int64_t>(1, o.heads / 2)},
                           {"intermediate_size", ffn}, {"vocab_size", o.vocab},
                           {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"hidden_act", "silu"},
                           {"max_position_embeddings", 4096}, {"bos_token_id", kBos}, {"eos_token_id", kEos},
                           {"tie_word_embeddings", family == "qwen2"}, {"torch_dtype", "bfloat16"}};
  if (family == "mistral") config["sliding_window"] = 4096;
  return config;
}

}  // namespace

namespace {

// `count` BF16 values uniform on [-sqrt(3) std, sqrt(3) std] (standard
// deviation `std`), from SplitMix64 seeded with `seed`.
void AppendFastUniformBf16(int64_t count, double std, uint64_t seed, std::string* data) {
  const size_t begin = data->size();
  data->resize(begin + static_cast<size_t>(count) * 2);
  auto* out = reinterpret_cast<uint16_t*>(&(*data)[begin]);
  const float half_width = static_cast<float>(std * std::sqrt(3.0));
  uint64_t state = seed;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    const uint16_t bf16 = ToBf16((2.0f * unit - 1.0f) * half_width);
    std::memcpy(out + i, &bf16, 2);
  }
}

}  // namespace

void WriteRandomModel(const InitModelOptions& options, const std::filesystem::path& dir) {
  const std::string& family = options.family;
  if (options.vocab < 256 + static_cast<int64_t>(kSpecialTokens.size()))
    throw UserError("init-model: --vocab must hold the 256 byte tokens and the special tokens (at least 262)");
  if (options.layers < 1 || options.d_model < 2 || options.heads < 1 || options.d_model % options.heads != 0)
    throw UserError("init-model: --d-model must be a positive multiple of --heads, --layers at least 1");
  const nlohmann::json config = ConfigJson(options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UserError::InFile(dir.string(), "--out", "cannot create directory: " + ec.message());
  WriteFileAtomically(dir / "config.json", config.dump(2) + "\n");
  WriteFileAtomically(dir / "generation_config.json",
                      nlohmann::json({{"bos_token_id", kBos}, {"eos_token_id", kEos}}).dump(2) + "\n");
  WriteFileAtomically(dir / "tokenizer.json", TokenizerJson().dump() + "\n");
  const char* chat_template =
      family == "llada"
          ? "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
            "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
            "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
            "{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
          : "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
            "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  WriteFileAtomically(dir / "tokenizer_config.json",
                      nlohmann::json({{"bos_token", "<|startoftext|>"}, {"eos_token", "<|endoftext|>"},
                                      {"pad_token", "<|endoftext|>"}, {"chat_template", chat_template}})
                              .dump(2) +
                          "\n");

  // The tensors the family's config implies, filled with N(0, 0.5^2) (norms: 1).
  // Box-Muller over CPython's random(): the same bytes on every machine.
  // Tensors of benchmark shapes (over 4M elements) take a uniform draw with
  // the usual 0.02 init scale from SplitMix64 instead: Box-Muller over the
  // Mersenne Twister would take minutes for an 8B-shaped layer stack.
  const TransformerConfig parsed = ReadTransformerConfig(dir);
  auto tensors = ExpectedTensors(parsed);
  std::sort(tensors.begin(), tensors.end());

  PyRandom rng(options.seed);
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}, {"generator", "llada-eval init-model"}}}};
  std::string data;
  for (const auto& [name, shape] : tensors) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    const bool is_norm = name.find("norm") != std::string::npos || name.find("ln_f") != std::string::npos;
    const size_t begin = data.size();
    if (!is_norm && count > (int64_t{4} << 20)) {
      AppendFastUniformBf16(count, 0.02, options.seed ^ static_cast<uint64_t>(begin), &data);
      header[name] = {{"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
      continue;
    }
    for (int64_t i = 0; i < count; ++i) {
      float value = 1.0f;
      if (!is_norm) {
        const double u1 = 1.0 - rng.Random(), u2 = rng.Random();
        value = static_cast<float>(0.5 * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
      }
      const uint16_t bf16 = ToBf16(value);
      data.append(reinterpret_cast<const char*>(&bf16), 2);
    }
    header[name] = {{"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // align the data, as safetensors writers do
  const uint64_t header_size = header_text.size();
  std::string file(reinterpret_cast<const char*>(&header_size), 8);
  file += header_text + data;
  WriteFileAtomically(dir / "model.safetensors", file);
}

}  // namespace llada
