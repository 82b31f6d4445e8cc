#include "models/checkpoint/model_config.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/file_io.h"

namespace llada {
namespace {

int64_t RequiredInt(const nlohmann::json& config, const char* field, const std::string& file) {
  if (!config.contains(field) || !config.at(field).is_number_integer())
    throw UserError::InFile(file, field, "required integer field missing");
  return config.at(field).get<int64_t>();
}

std::optional<int64_t> OptionalId(const nlohmann::json& config, const char* field) {
  if (config.contains(field) && config.at(field).is_number_integer()) return config.at(field).get<int64_t>();
  return std::nullopt;
}

void AddLlamaNames(TransformerConfig* c) {
  c->embedding_name = "model.embed_tokens.weight";
  c->final_norm_name = "model.norm.weight";
  c->lm_head_name = c->tied_embeddings ? c->embedding_name : "lm_head.weight";
  for (int64_t i = 0; i < c->num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerTensorNames n;
    n.attn_norm = p + "input_layernorm.weight";
    n.q = p + "self_attn.q_proj.weight";
    n.k = p + "self_attn.k_proj.weight";
    n.v = p + "self_attn.v_proj.weight";
    n.o = p + "self_attn.o_proj.weight";
    if (c->qkv_bias) {
      n.q_bias = p + "self_attn.q_proj.bias";
      n.k_bias = p + "self_attn.k_proj.bias";
      n.v_bias = p + "self_attn.v_proj.bias";
    }
    n.ffn_norm = p + "post_attention_layernorm.weight";
    n.gate = p + "mlp.gate_proj.weight";
    n.up = p + "mlp.up_proj.weight";
    n.down = p + "mlp.down_proj.weight";
    c->layers.push_back(n);
  }
}

void AddLladaNames(TransformerConfig* c) {
  c->embedding_name = "model.transformer.wte.weight";
  c->final_norm_name = "model.transformer.ln_f.weight";
  c->lm_head_name = c->tied_embeddings ? c->embedding_name : "model.transformer.ff_out.weight";
  for (int64_t i = 0; i < c->num_layers; ++i) {
    const std::string p = "model.transformer.blocks." + std::to_string(i) + ".";
    LayerTensorNames n;
    n.attn_norm = p + "attn_norm.weight";
    n.q = p + "q_proj.weight";
    n.k = p + "k_proj.weight";
    n.v = p + "v_proj.weight";
    n.o = p + "attn_out.weight";
    n.ffn_norm = p + "ff_norm.weight";
    n.gate = p + "ff_proj.weight";  // LLaDA's ff_proj is the SiLU-gated branch
    n.up = p + "up_proj.weight";
    n.down = p + "ff_out.weight";
    c->layers.push_back(n);
  }
}

// LLaDA's config.json (the OLMo-derived LLaDAConfig field names).
void ReadLlada(const nlohmann::json& j, const std::string& file, TransformerConfig* c) {
  c->family = ModelFamily::kLLaDA;
  c->causal = false;
  if (j.value("block_type", std::string("llama")) != "llama")
    throw UserError::InFile(file, "block_type", "only the 'llama' block type is supported");
  if (j.value("alibi", false)) throw UserError::InFile(file, "alibi", "ALiBi is not supported");
  if (!j.value("rope", true)) throw UserError::InFile(file, "rope", "LLaDA without RoPE is not supported");
  if (j.value("include_bias", false) || j.value("include_qkv_bias", false))
    throw UserError::InFile(file, "include_bias", "biased LLaDA projections are not supported");
  if (j.value("layer_norm_type", std::string("rms")) != "rms")
    throw UserError::InFile(file, "layer_norm_type", "only 'rms' is supported");
  if (j.value("activation_type", std::string("silu")) != "silu")
    throw UserError::InFile(file, "activation_type", "only 'silu' (gate ff_proj, linear up_proj) is supported");
  if (j.value("scale_logits", false)) throw UserError::InFile(file, "scale_logits", "not supported");
  if (j.value("attention_layer_norm", false)) throw UserError::InFile(file, "attention_layer_norm", "QK-norm is not supported");
  c->hidden_size = RequiredInt(j, "d_model", file);
  c->num_layers = RequiredInt(j, "n_layers", file);
  c->num_heads = RequiredInt(j, "n_heads", file);
  c->num_kv_heads = j.contains("n_kv_heads") && j.at("n_kv_heads").is_number_integer() ? j.at("n_kv_heads").get<int64_t>()
                                                                                         : c->num_heads;
  c->intermediate_size = j.contains("mlp_hidden_size") && j.at("mlp_hidden_size").is_number_integer()
                             ? j.at("mlp_hidden_size").get<int64_t>()
                             : j.value("mlp_ratio", 4) * c->hidden_size;
  c->vocab_size = j.contains("embedding_size") && j.at("embedding_size").is_number_integer()
                      ? j.at("embedding_size").get<int64_t>()
                      : RequiredInt(j, "vocab_size", file);
  c->rms_norm_eps = j.value("rms_norm_eps", 1e-5);
  c->rope_theta = j.value("rope_theta", 10000.0);
  c->max_positions = j.value("max_sequence_length", int64_t{4096});
  c->tied_embeddings = j.value("weight_tying", false);
  c->mask_token_id = OptionalId(j, "mask_token_id");
  c->eos_token_id = OptionalId(j, "eos_token_id");
  c->pad_token_id = OptionalId(j, "pad_token_id");
  c->bos_token_id = OptionalId(j, "bos_token_id");
  AddLladaNames(c);
}

void ReadLlamaFamily(const nlohmann::json& j, const std::string& file, TransformerConfig* c) {
  c->hidden_size = RequiredInt(j, "hidden_size", file);
  c->num_layers = RequiredInt(j, "num_hidden_layers", file);
  c->num_heads = RequiredInt(j, "num_attention_heads", file);
  c->num_kv_heads = j.contains("num_key_value_heads") && j.at("num_key_value_heads").is_number_integer()
                        ? j.at("num_key_value_heads").get<int64_t>()
                        : c->num_heads;
  c->intermediate_size = RequiredInt(j, "intermediate_size", file);
  c->vocab_size = RequiredInt(j, "vocab_size", file);
  c->rms_norm_eps = j.value("rms_norm_eps", 1e-6);
  c->rope_theta = j.value("rope_theta", 10000.0);
  c->tied_embeddings = j.value("tie_word_embeddings", false);
  c->bos_token_id = OptionalId(j, "bos_token_id");
  c->eos_token_id = OptionalId(j, "eos_token_id");
  c->pad_token_id = OptionalId(j, "pad_token_id");
  if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null())
    throw UserError::InFile(file, "rope_scaling", "RoPE scaling is not supported yet");
  if (j.value("hidden_act", std::string("silu")) != "silu")
    throw UserError::InFile(file, "hidden_act", "only 'silu' is supported");
  if (c->family == ModelFamily::kMistral) {
    c->max_positions = j.value("max_position_embeddings", int64_t{4096 * 32});
    if (j.contains("sliding_window") && j.at("sliding_window").is_number_integer())
      c->sliding_window = j.at("sliding_window").get<int64_t>();
  } else {
    c->max_positions = j.value("max_position_embeddings", int64_t{c->family == ModelFamily::kQwen2 ? 32768 : 2048});
  }
  if (c->family == ModelFamily::kQwen2) {
    c->qkv_bias = true;
    if (j.value("use_sliding_window", false) && j.contains("sliding_window"))
      throw UserError::InFile(file, "use_sliding_window", "Qwen2 sliding-window attention is not supported");
  }
  AddLlamaNames(c);
}

}  // namespace

TransformerConfig ReadTransformerConfig(const std::filesystem::path& dir) {
  const std::string file = (dir / "config.json").string();
  const nlohmann::json j = nlohmann::json::parse(ReadInputFile(dir / "config.json"), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw UserError::InFile(file, "", "not valid JSON");
  if (!j.contains("architectures") || !j.at("architectures").is_array() || j.at("architectures").empty())
    throw UserError::InFile(file, "architectures", "missing");
  TransformerConfig config;
  config.architecture = j.at("architectures").at(0).get<std::string>();
  if (config.architecture == "LLaDAModelLM") {
    ReadLlada(j, file, &config);
  } else {
    if (config.architecture == "LlamaForCausalLM") config.family = ModelFamily::kLlama;
    else if (config.architecture == "MistralForCausalLM") config.family = ModelFamily::kMistral;
    else if (config.architecture == "Qwen2ForCausalLM") config.family = ModelFamily::kQwen2;
    else
      throw UserError::InFile(file, "architectures", "'" + config.architecture +
                                                         "' is not supported (LLaDAModelLM, LlamaForCausalLM, "
                                                         "MistralForCausalLM, Qwen2ForCausalLM)");
    ReadLlamaFamily(j, file, &config);
  }
  if (config.num_heads <= 0 || config.hidden_size % config.num_heads != 0)
    throw UserError::InFile(file, "num_attention_heads", "must divide the hidden size");
  if (config.num_kv_heads <= 0 || config.num_heads % config.num_kv_heads != 0)
    throw UserError::InFile(file, "num_key_value_heads", "must divide the number of attention heads");
  config.head_dim = config.hidden_size / config.num_heads;
  if (config.head_dim % 2 != 0) throw UserError::InFile(file, "hidden_size", "head dimension must be even for RoPE");
  if (config.eos_token_id) config.eos_token_ids.push_back(*config.eos_token_id);

  std::error_code ec;
  const auto generation = dir / "generation_config.json";
  if (std::filesystem::exists(generation, ec)) {
    const nlohmann::json g = nlohmann::json::parse(ReadInputFile(generation), nullptr, false);
    if (g.is_discarded() || !g.is_object()) throw UserError::InFile(generation.string(), "", "not valid JSON");
    if (g.contains("bos_token_id") && g.at("bos_token_id").is_number_integer())
      config.bos_token_id = g.at("bos_token_id").get<int64_t>();
    if (g.contains("eos_token_id")) {
      const auto& eos = g.at("eos_token_id");
      if (eos.is_number_integer()) config.eos_token_ids = {eos.get<int64_t>()};
      if (eos.is_array()) config.eos_token_ids = eos.get<std::vector<int64_t>>();
    }
    if (g.contains("pad_token_id") && g.at("pad_token_id").is_number_integer())
      config.pad_token_id = g.at("pad_token_id").get<int64_t>();
  }
  return config;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedTensors(const TransformerConfig& c) {
  const int64_t h = c.hidden_size, kv = c.num_kv_heads * c.head_dim, f = c.intermediate_size;
  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors = {{c.embedding_name, {c.vocab_size, h}}};
  for (const auto& n : c.layers) {
    tensors.push_back({n.attn_norm, {h}});
    tensors.push_back({n.q, {h, h}});
    tensors.push_back({n.k, {kv, h}});
    tensors.push_back({n.v, {kv, h}});
    tensors.push_back({n.o, {h, h}});
    if (c.qkv_bias) {
      tensors.push_back({n.q_bias, {h}});
      tensors.push_back({n.k_bias, {kv}});
      tensors.push_back({n.v_bias, {kv}});
    }
    tensors.push_back({n.ffn_norm, {h}});
    tensors.push_back({n.gate, {f, h}});
    tensors.push_back({n.up, {f, h}});
    tensors.push_back({n.down, {h, f}});
  }
  tensors.push_back({c.final_norm_name, {h}});
  if (c.lm_head_name != c.embedding_name) tensors.push_back({c.lm_head_name, {c.vocab_size, h}});
  return tensors;
}

void ValidateCheckpoint(const TransformerConfig& c, const Checkpoint& checkpoint) {
  for (const auto& [name, shape] : ExpectedTensors(c)) checkpoint.Get(name, shape);
  for (const auto& name : checkpoint.Names()) {
    const auto& view = checkpoint.Get(name);
    if (view.dtype != DType::kBF16 && view.dtype != DType::kF16 && view.dtype != DType::kF32)
      throw UserError::InFile(view.file, name, std::string("dtype ") + DTypeName(view.dtype) + " is not a float type");
  }
}

}  // namespace llada
