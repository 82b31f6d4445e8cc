// The Model interface over a Hugging Face checkpoint directory: tokenizer,
// lm-eval's request semantics, and the LLaDA or causal algorithms.
#include <algorithm>
#include <fstream>

#include "core/errors.h"
#include "core/hashing.h"
#include "core/file_io.h"
#include "models/model.h"
#include "models/tokenizer/encode_pair.h"
#include "models/tokenizer/tokenizer.h"
#include "models/torch/backends.h"
#include "models/torch/causal_lm.h"
#include "models/torch/llada_algorithms.h"

namespace llada {
namespace {

// A fingerprint of the weights without reading 16 GB: config.json, every
// shard's header and size, and the first and last 4 MiB of every shard.
std::string WeightsFingerprint(const std::filesystem::path& dir) {
  std::string material = ReadInputFile(dir / "config.json");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  constexpr std::streamoff kSample = 4 << 20;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    material += file.filename().string() + ":" + std::to_string(size) + ":";
    std::string head(static_cast<size_t>(std::min(size, kSample)), '\0');
    in.seekg(0);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    material += Sha256Hex(head);
    if (size > kSample) {
      std::string tail(static_cast<size_t>(kSample), '\0');
      in.seekg(size - kSample);
      in.read(tail.data(), kSample);
      material += Sha256Hex(tail);
    }
  }
  return Sha256Hex(material);
}

torch::Device ParseDevice(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  if (!torch::cuda::is_available()) throw UserError("--device " + device + ": CUDA is not available in this build or machine");
  return torch::Device(device);
}

torch::ScalarType ParseDtype(const std::string& dtype, const torch::Device& device) {
  if (dtype == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (dtype == "float32") return torch::kFloat32;
  if (dtype == "bfloat16") return torch::kBFloat16;
  if (dtype == "float16") return torch::kFloat16;
  throw UserError("--dtype: unknown '" + dtype + "'");
}

template <typename T>
T Arg(const nlohmann::json& args, const char* key, T fallback) {
  if (!args.contains(key) || args.at(key).is_null()) return fallback;
  try {
    return args.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw UserError(std::string("model argument '") + key + "' has the wrong type");
  }
}

// lm-eval's stop-sequence handling: cut at the first occurrence of each
// `until` string, in list order.
std::string CutAtStops(std::string text, const std::vector<std::string>& until) {
  for (const auto& stop : until) {
    if (stop.empty()) continue;
    const size_t at = text.find(stop);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

class HfModel : public Model {
 public:
  explicit HfModel(const ModelOptions& options) : options_(options), dir_(options.spec) {
    const TransformerConfig config = ReadTransformerConfig(dir_);
    const auto checkpoint = Checkpoint::Open(dir_);
    device_ = std::make_unique<torch::Device>(ParseDevice(options.device));
    dtype_ = ParseDtype(options.dtype, *device_);
    tokenizer_ = Tokenizer::Load(dir_);
    model_ = std::make_unique<Transformer>(config, *checkpoint, *device_, dtype_);
    fingerprint_ = WeightsFingerprint(dir_);
  }

  // Computed once: it hashes tokenizer.json, and the harness asks for it
  // several times per run.
  std::string Identity() const override {
    if (identity_.empty()) {
      identity_ = nlohmann::json({{"architecture", model_->config().architecture},
                                  {"weights", fingerprint_},
                                  {"tokenizer", Sha256File(dir_ / "tokenizer.json")},
                                  {"device_type", device_->is_cuda() ? "cuda" : "cpu"},
                                  {"dtype", std::string(c10::toString(dtype_))},
                                  {"settings", Settings()}})
                      .dump();
    }
    return identity_;
  }

  nlohmann::json Describe() const override {
    const auto& c = model_->config();
    return {{"backend", c.family == ModelFamily::kLLaDA ? "llada" : "causal"},
            {"path", dir_.string()},
            {"architecture", c.architecture},
            {"layers", c.num_layers},
            {"hidden_size", c.hidden_size},
            {"vocab_size", c.vocab_size},
            {"device", options_.device},
            {"dtype", std::string(c10::toString(dtype_))},
            {"settings", Settings()}};
  }

  ModelCapabilities Capabilities() const override { return {}; }

 protected:
  // The settings that change outputs (part of the identity).
  virtual nlohmann::json Settings() const = 0;

  std::vector<int64_t> Ids(const std::vector<int32_t>& ids) const { return {ids.begin(), ids.end()}; }

  ModelOptions options_;
  std::filesystem::path dir_;
  std::unique_ptr<torch::Device> device_;
  torch::ScalarType dtype_ = torch::kFloat32;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Transformer> model_;
  std::string fingerprint_;
  mutable std::string identity_;
};

// LLaDA as eval_llada.py runs it: Monte-Carlo likelihood (mc_num samples,
// optional CFG), the suffix-greedy check, diffusion generation. Each request
// is seeded with --seed on its own, so its estimate does not depend on which
// requests ran before it (eval_llada.py seeds once per process; see docs).
class LladaModel : public HfModel {
 public:
  explicit LladaModel(const ModelOptions& options) : HfModel(options) {
    const auto& args = options.model_args;
    mc_.mc_num = Arg<int>(args, "mc_num", 128);
    mc_.batch_size = Arg<int>(args, "mc_batch_size", std::min(mc_.mc_num, 32));
    mc_.cfg_scale = Arg<double>(args, "cfg", 0.0);
    const auto& config = model_->config();
    mc_.mask_id = Arg<int64_t>(args, "mask_id", config.mask_token_id.value_or(126336));
    if (mc_.mc_num % mc_.batch_size != 0)
      throw UserError("model arguments: mc_num (" + std::to_string(mc_.mc_num) + ") must be a multiple of mc_batch_size (" +
                      std::to_string(mc_.batch_size) + ")");
    check_greedy_ = Arg<bool>(args, "is_check_greedy", false);
    generate_.gen_length = Arg<int64_t>(args, "gen_length", 1024);
    generate_.steps = Arg<int64_t>(args, "steps", generate_.gen_length);
    generate_.block_length = Arg<int64_t>(args, "block_length", generate_.gen_length);
    generate_.temperature = Arg<double>(args, "temperature", 0.0);
    generate_.cfg_scale = mc_.cfg_scale;
    generate_.remasking = Arg<std::string>(args, "remasking", "low_confidence");
    generate_.mask_id = mc_.mask_id;
    generate_.logits_eos_inf = Arg<bool>(args, "logits_eos_inf", false);
    generate_.confidence_eos_eot_inf = Arg<bool>(args, "confidence_eos_eot_inf", false);
    if (auto eos = tokenizer_->SpecialId("eos_token")) generate_.eos_id = *eos;
    if (auto eot = tokenizer_->TokenToId("<|eot_id|>")) generate_.eot_id = *eot;
  }

  std::vector<Response> Loglikelihood(const std::vector<Request>& requests) override {
    std::vector<Response> responses;
    for (const auto& request : requests) {
      const EncodedPair pair = EncodePair(*tokenizer_, request.context, request.continuation, /*add_special_tokens=*/true);
      CheckLength(pair.context.size() + pair.continuation.size());
      torch::manual_seed(options_.seed);
      Response response;
      double standard_error = 0.0;
      response.loglikelihood =
          LladaLogLikelihood(*model_, Ids(pair.context), Ids(pair.continuation), mc_, &standard_error);
      response.loglikelihood_stderr = standard_error;
      response.is_greedy = check_greedy_ && LladaSuffixGreedy(*model_, Ids(pair.context), Ids(pair.continuation), mc_);
      responses.push_back(response);
    }
    return responses;
  }

  std::vector<Response> GenerateUntil(const std::vector<Request>& requests) override {
    std::vector<Response> responses;
    for (const auto& request : requests) {
      const auto prompt = Ids(tokenizer_->Encode(request.context, /*add_special_tokens=*/true));
      CheckLength(prompt.size() + static_cast<size_t>(generate_.gen_length));
      torch::manual_seed(options_.seed);
      const auto output = LladaGenerate(*model_, torch::tensor(prompt, torch::kInt64).unsqueeze(0), generate_);
      const auto generated = output[0].slice(0, static_cast<int64_t>(prompt.size())).to(torch::kCPU);
      const std::vector<int32_t> ids(generated.data_ptr<int64_t>(), generated.data_ptr<int64_t>() + generated.numel());
      // eval_llada.py: decode with specials, cut at the stop strings, then
      // re-encode and decode without specials (drops <|endoftext|>, <|eot_id|>).
      const std::string text = CutAtStops(tokenizer_->Decode(ids, false), request.until);
      Response response;
      response.text = tokenizer_->Decode(tokenizer_->Encode(text, false), true);
      responses.push_back(response);
    }
    return responses;
  }

 private:
  nlohmann::json Settings() const override {
    return {{"mc_num", mc_.mc_num},       {"mc_batch_size", mc_.batch_size}, {"cfg", mc_.cfg_scale},
            {"mask_id", mc_.mask_id},     {"seed", options_.seed},           {"is_check_greedy", check_greedy_},
            {"gen_length", generate_.gen_length}, {"steps", generate_.steps}, {"block_length", generate_.block_length},
            {"temperature", generate_.temperature}, {"remasking", generate_.remasking},
            {"logits_eos_inf", generate_.logits_eos_inf}, {"confidence_eos_eot_inf", generate_.confidence_eos_eot_inf}};
  }

  // eval_llada.py asserts prompt + answer <= max_length (4096); a longer
  // request fails on its own instead of running out of memory.
  void CheckLength(size_t tokens) const {
    const auto limit = static_cast<size_t>(model_->config().max_positions);
    if (tokens > limit)
      throw SampleError("request is " + std::to_string(tokens) + " tokens, over the model's " + std::to_string(limit));
  }

  MonteCarloOptions mc_;
  DiffusionGenerateOptions generate_;
  bool check_greedy_ = false;
};

// ARM baselines as lm-eval's HFLM runs them: exact log-likelihood and greedy
// decoding with a KV cache, no BOS unless add_bos_token.
class CausalModel : public HfModel {
 public:
  explicit CausalModel(const ModelOptions& options) : HfModel(options) {
    add_bos_ = Arg<bool>(options.model_args, "add_bos_token", false);
    max_gen_toks_ = Arg<int64_t>(options.model_args, "max_gen_toks", 256);
    const auto& config = model_->config();
    // HFLM's prefix_token_id: BOS, else EOS; the context of an empty-context request.
    if (config.bos_token_id) prefix_token_ = *config.bos_token_id;
    else if (!config.eos_token_ids.empty()) prefix_token_ = config.eos_token_ids.front();
    stop_ids_ = config.eos_token_ids;
  }

  std::vector<Response> Loglikelihood(const std::vector<Request>& requests) override {
    std::vector<Response> responses;
    for (const auto& request : requests) {
      std::vector<int64_t> context, continuation;
      if (request.context.empty()) {
        if (prefix_token_ < 0) throw SampleError("empty context and the model has no BOS/EOS token to stand for it");
        context = {prefix_token_};
        continuation = Ids(tokenizer_->Encode(request.continuation, add_bos_));
      } else {
        const EncodedPair pair = EncodePair(*tokenizer_, request.context, request.continuation, add_bos_);
        context = Ids(pair.context);
        continuation = Ids(pair.continuation);
      }
      // HFLM keeps the last max_length + 1 tokens of context + continuation.
      const size_t limit = static_cast<size_t>(model_->config().max_positions) + 1;
      if (continuation.size() >= limit)
        throw SampleError("continuation of " + std::to_string(continuation.size()) + " tokens does not fit the model's " +
                          std::to_string(limit - 1) + " positions");
      if (context.size() + continuation.size() > limit)
        context.erase(context.begin(), context.end() - static_cast<long>(limit - continuation.size()));
      const CausalLoglikelihood result = CausalLogLikelihood(*model_, context, continuation);
      Response response;
      response.loglikelihood = result.loglikelihood;
      response.is_greedy = result.is_greedy;
      responses.push_back(response);
    }
    return responses;
  }

  std::vector<Response> GenerateUntil(const std::vector<Request>& requests) override {
    std::vector<Response> responses;
    for (const auto& request : requests) {
      auto prompt = Ids(tokenizer_->Encode(request.context, add_bos_));
      const int64_t budget = request.max_gen_toks.value_or(static_cast<int>(max_gen_toks_));
      // HFLM: the context keeps its last max_length - max_gen_toks tokens.
      const int64_t room = model_->config().max_positions - budget;
      if (room < 1) throw SampleError("max_gen_toks leaves no room for the context");
      if (static_cast<int64_t>(prompt.size()) > room) prompt.erase(prompt.begin(), prompt.end() - room);
      const auto generated = GreedyGenerate(*model_, prompt, budget, stop_ids_);
      Response response;
      response.text = CutAtStops(tokenizer_->Decode(std::vector<int32_t>(generated.begin(), generated.end()), true),
                                 request.until);
      responses.push_back(response);
    }
    return responses;
  }

 private:
  nlohmann::json Settings() const override {
    return {{"add_bos_token", add_bos_}, {"max_gen_toks", max_gen_toks_}, {"decoding", "greedy"}};
  }

  bool add_bos_ = false;
  int64_t max_gen_toks_ = 256;
  int64_t prefix_token_ = -1;
  std::vector<int64_t> stop_ids_;
};

}  // namespace

void RegisterTorchBackends(ModelRegistry& registry) {
  registry.RegisterArchitecture("LLaDAModelLM", [](const ModelOptions& o) { return std::make_unique<LladaModel>(o); });
  for (const char* architecture : {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"})
    registry.RegisterArchitecture(architecture, [](const ModelOptions& o) { return std::make_unique<CausalModel>(o); });
}

}  // namespace llada
