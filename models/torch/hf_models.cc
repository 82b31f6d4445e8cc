// The Model interface over a Hugging Face checkpoint directory: tokenizer,
// lm-eval's request semantics, and the LLaDA or causal algorithms.
#include <algorithm>
#include <chrono>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "models/hf_checkpoint.h"
#include "models/model.h"
#include "models/tokenizer/encode_pair.h"
#include "models/tokenizer/generation_text.h"
#include "models/tokenizer/tokenizer.h"
#include "models/torch/backends.h"
#include "models/torch/causal_lm.h"
#include "models/torch/cpu_threads.h"
#include "models/torch/inspect.h"
#include "models/torch/llada_algorithms.h"

namespace llada {
namespace {

// Every backend setting any checkpoint backend understands. A key outside this
// list is a typo (an error); a key of the other backend is ignored, so one
// preset serves LLaDA and its ARM baselines.
const std::vector<std::string>& KnownModelArgs() {
  static const std::vector<std::string> known = {
      // LLaDA: Monte-Carlo likelihood and diffusion generation
      "mc_num", "mc_batch_size", "batch_size", "max_batch_tokens", "cfg", "mc_adaptive", "mc_min", "mc_confidence",
      "mask_id", "is_check_greedy", "gen_length", "steps", "block_length", "temperature", "remasking", "logits_eos_inf",
      "confidence_eos_eot_inf",
      // LLaDA fast decoding (Fast-dLLM, dInfer)
      "cache", "threshold", "factor", "early_stop",
      // ARM (HFLM)
      "add_bos_token", "max_gen_toks"};
  return known;
}

void CheckModelArgs(const nlohmann::json& args) {
  if (!args.is_object()) throw UserError("model arguments must be key=value pairs");
  const auto& known = KnownModelArgs();
  for (auto it = args.begin(); it != args.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    throw UserError("model argument '" + it.key() + "' is unknown (known: " + Join(known, ", ") + ")");
  }
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

class HfModel : public Model {
 public:
  HfModel(const ModelOptions& options, HfCheckpoint files)
      : options_(options),
        dir_(std::move(files.dir)),
        config_(std::move(files.config)),
        tokenizer_(std::move(files.tokenizer)),
        fingerprint_(std::move(files.weights_fingerprint)),
        tokenizer_sha_(std::move(files.tokenizer_sha)) {
    threads_ = ApplyCpuThreads(options.threads);
    // Without the weights (serving from the cache) the device need not be
    // here: a merge runs on a login node for a run made on GPUs.
    device_ = std::make_unique<torch::Device>(options.load_weights ? ParseDevice(options.device)
                                                                   : torch::Device(options.device));
    dtype_ = ParseDtype(options.dtype, *device_);
    if (options.load_weights) model_ = std::make_unique<Transformer>(config_, *files.weights, *device_, dtype_);
  }

  // Cached until the settings change: the harness asks for it per task.
  std::string Identity() const override {
    if (identity_.empty()) identity_ = IdentityWith(Settings()).dump();
    return identity_;
  }

  // Only the settings of the request type: a new gen_length must not throw
  // away cached likelihoods.
  std::string CacheIdentity(RequestType type) const override {
    return IdentityWith(Settings().at(RequestTypeName(type))).dump();
  }

  nlohmann::json Describe() const override {
    const auto& c = config_;
    return {{"backend", c.family == ModelFamily::kLLaDA ? "llada" : "causal"},
            {"path", dir_.string()},
            {"architecture", c.architecture},
            {"layers", c.num_layers},
            {"hidden_size", c.hidden_size},
            {"vocab_size", c.vocab_size},
            {"device", options_.device},
            {"dtype", std::string(c10::toString(dtype_))},
            {"settings", Settings()},
            {"numerics", Numerics()},
            {"cpu_threads", threads_}};
  }

  ModelCapabilities Capabilities() const override { return {}; }

 protected:
  // The settings that change outputs, per request type:
  // {"loglikelihood": {...}, "generate_until": {...}}.
  virtual nlohmann::json Settings() const = 0;

  // Where this device and dtype compute differently from the reference run
  // on the CPU in float32, by design; every run records it (config.numerics).
  virtual std::vector<std::string> DifferencesFromReference() const = 0;

  bool LowPrecision() const { return dtype_ != torch::kFloat32; }
  // The --dtype spelling (c10's names, "BFloat16", stay in the identity).
  std::string DtypeName() const {
    if (dtype_ == torch::kBFloat16) return "bfloat16";
    if (dtype_ == torch::kFloat16) return "float16";
    return "float32";
  }

  nlohmann::json Numerics() const {
    return {{"compute_dtype", DtypeName()},
            // Transformer::Head casts the logits before any softmax, cross-entropy or sum.
            {"logits_dtype", "float32"},
            {"differences_from_reference", DifferencesFromReference()}};
  }

  nlohmann::json IdentityWith(const nlohmann::json& settings) const {
    return {{"architecture", config_.architecture},
            {"weights", fingerprint_},
            {"tokenizer", tokenizer_sha_},
            {"device_type", device_->is_cuda() ? "cuda" : "cpu"},
            {"dtype", std::string(c10::toString(dtype_))},
            {"settings", settings}};
  }

  std::vector<int64_t> Ids(const std::vector<int32_t>& ids) const { return {ids.begin(), ids.end()}; }

  // One untimed forward pass before the first timed request, so that one-off
  // costs (kernel selection, allocator growth, lazy CUDA init) stay out of
  // the recorded speed.
  void WarmUp(const torch::Tensor& input) {
    if (warmed_up_) return;
    Net().Forward(input);
    warmed_up_ = true;
  }

  // Model wall time of one request, the device synchronized at both ends.
  class CostClock {
   public:
    explicit CostClock(const torch::Device& device) : device_(device) {
      Sync();
      start_ = std::chrono::steady_clock::now();
    }
    double Seconds() const {
      Sync();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

   private:
    void Sync() const {
      if (device_.is_cuda()) torch::cuda::synchronize();
    }
    torch::Device device_;
    std::chrono::steady_clock::time_point start_;
  };

  // Generated tokens up to the first stop token (EOS/EoT): the spec's
  // gen_tokens_until_eos.
  static int64_t TokensBeforeStop(const std::vector<int32_t>& ids, const std::vector<int64_t>& stops) {
    for (size_t i = 0; i < ids.size(); ++i)
      if (std::find(stops.begin(), stops.end(), ids[i]) != stops.end()) return static_cast<int64_t>(i);
    return static_cast<int64_t>(ids.size());
  }

  // The network; an InternalError where the weights were not loaded (the
  // harness never asks a cache-only model to compute).
  const Transformer& Net() const {
    if (!model_) throw InternalError("model " + dir_.string() + " was opened without its weights");
    return *model_;
  }

  bool warmed_up_ = false;

  ModelOptions options_;
  std::filesystem::path dir_;
  TransformerConfig config_;
  std::unique_ptr<torch::Device> device_;
  torch::ScalarType dtype_ = torch::kFloat32;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Transformer> model_;
  std::string fingerprint_, tokenizer_sha_;
  nlohmann::json threads_;  // ApplyCpuThreads' record
  mutable std::string identity_;
};

// LLaDA as eval_llada.py runs it: Monte-Carlo likelihood (mc_num samples,
// optional CFG), the suffix-greedy check, diffusion generation. Each request
// is seeded with --seed on its own, so its estimate does not depend on which
// requests ran before it (eval_llada.py seeds once per process; see docs).
class LladaModel : public HfModel {
 public:
  LladaModel(const ModelOptions& options, HfCheckpoint files) : HfModel(options, std::move(files)) {
    Configure(options.model_args);
  }

  void Configure(const nlohmann::json& args) override {
    CheckModelArgs(args);
    mc_ = MonteCarloOptions();
    mc_.mc_num = Arg<int>(args, "mc_num", 128);
    // eval_llada.py's batch_size is its Monte-Carlo batch (rows per forward).
    mc_.batch_size = Arg<int>(args, "mc_batch_size", Arg<int>(args, "batch_size", std::min(mc_.mc_num, 32)));
    mc_.cfg_scale = Arg<double>(args, "cfg", 0.0);
    mc_.max_batch_tokens = Arg<int64_t>(args, "max_batch_tokens", 0);
    mc_.adaptive = Arg<bool>(args, "mc_adaptive", false);
    mc_.mc_min = Arg<int>(args, "mc_min", std::max(mc_.batch_size, 16));
    mc_.confidence = Arg<double>(args, "mc_confidence", 0.99);
    const auto& config = config_;
    mc_.mask_id = Arg<int64_t>(args, "mask_id", config.mask_token_id.value_or(126336));
    CheckMonteCarloOptions(mc_);
    check_greedy_ = Arg<bool>(args, "is_check_greedy", false);
    generate_ = DiffusionGenerateOptions();
    generate_.gen_length = Arg<int64_t>(args, "gen_length", 1024);
    generate_.steps = Arg<int64_t>(args, "steps", generate_.gen_length);
    generate_.block_length = Arg<int64_t>(args, "block_length", generate_.gen_length);
    generate_.temperature = Arg<double>(args, "temperature", 0.0);
    generate_.cfg_scale = mc_.cfg_scale;
    generate_.remasking = Arg<std::string>(args, "remasking", "low_confidence");
    generate_.mask_id = mc_.mask_id;
    generate_.logits_eos_inf = Arg<bool>(args, "logits_eos_inf", false);
    generate_.confidence_eos_eot_inf = Arg<bool>(args, "confidence_eos_eot_inf", false);
    const std::string cache = Arg<std::string>(args, "cache", "none");
    if (cache == "prefix") {
      generate_.cache = DiffusionCache::kPrefix;
    } else if (cache == "dual") {
      generate_.cache = DiffusionCache::kDual;
    } else if (cache != "none") {
      throw UserError("model argument cache='" + cache + "' (expected none, prefix or dual)");
    }
    if (args.contains("threshold") && !args.at("threshold").is_null())
      generate_.threshold = Arg<double>(args, "threshold", 0.0);
    if (args.contains("factor") && !args.at("factor").is_null()) generate_.factor = Arg<double>(args, "factor", 0.0);
    generate_.early_stop = Arg<bool>(args, "early_stop", false);
    if (auto eos = tokenizer_->SpecialId("eos_token")) generate_.eos_id = *eos;
    if (auto eot = tokenizer_->TokenToId("<|eot_id|>")) generate_.eot_id = *eot;
    CheckGenerateOptions(generate_);
    identity_.clear();
  }

  // Every request's Monte-Carlo rows share forward passes; each request's
  // masks are drawn after torch::manual_seed(--seed), so an estimate does not
  // depend on the batch it ran in.
  ModelCapabilities Capabilities() const override {
    ModelCapabilities capabilities;
    capabilities.likelihoods_by_document = mc_.adaptive;
    return capabilities;
  }

  std::vector<Response> Loglikelihood(const std::vector<Request>& requests) override {
    std::vector<LikelihoodQuery> queries;
    std::map<std::pair<std::string, int64_t>, int64_t> group_of;  // a document's choices compete
    for (const auto& request : requests) {
      const EncodedPair pair =
          EncodePair(*tokenizer_, request.context, request.continuation, /*add_special_tokens=*/true);
      CheckLength(pair.context.size() + pair.continuation.size());
      LikelihoodQuery query{Ids(pair.context), Ids(pair.continuation)};
      if (request.ranking) {
        const auto document = std::make_pair(request.origin.task, request.origin.doc_index);
        query.group = group_of.emplace(document, static_cast<int64_t>(group_of.size())).first->second;
        query.ranking = request.ranking;
      }
      queries.push_back(std::move(query));
    }
    const CostClock clock(*device_);
    const std::vector<LikelihoodEstimate> estimates = LladaLogLikelihoods(Net(), queries, mc_, options_.seed);
    const double seconds = clock.Seconds();
    double rows_computed = 0.0;
    for (const auto& estimate : estimates) rows_computed += estimate.rows_computed;
    std::vector<Response> responses;
    for (size_t i = 0; i < queries.size(); ++i) {
      Response response;
      response.loglikelihood = estimates[i].loglikelihood;
      response.loglikelihood_stderr = estimates[i].standard_error;
      response.is_greedy = check_greedy_ && LladaSuffixGreedy(Net(), queries[i].prefix, queries[i].target, mc_);
      // The batch's time, shared in proportion to the rows each computed.
      response.likelihood_cost =
          LikelihoodCost{estimates[i].rows, estimates[i].rows_computed,
                         rows_computed > 0 ? seconds * estimates[i].rows_computed / rows_computed : 0.0};
      responses.push_back(response);
    }
    return responses;
  }

  // Requests share forward passes (left-padded, padded keys masked, positions
  // not shifted: generate.py's batched mode) when decoding draws nothing at
  // random; a row's tokens then do not depend on its neighbours beyond float
  // rounding. Sampled decoding runs one request at a time, seeded alone, so a
  // request's noise does not depend on its batch either.
  std::vector<Response> GenerateUntil(const std::vector<Request>& requests) override {
    std::vector<std::vector<int64_t>> prompts;
    for (const auto& request : requests) {
      prompts.push_back(Ids(tokenizer_->Encode(request.context, /*add_special_tokens=*/true)));
      CheckLength(prompts.back().size() + static_cast<size_t>(generate_.gen_length));
    }
    const bool draws = generate_.temperature != 0.0 || generate_.remasking != "low_confidence";
    const size_t group = draws ? 1 : requests.size();
    // generate.py pads with EOS (any id but the mask would do: pads are masked keys).
    const int64_t pad_id = generate_.eos_id != generate_.mask_id ? generate_.eos_id : 0;
    std::vector<Response> responses;
    for (size_t first = 0; first < requests.size(); first += group) {
      const size_t rows = std::min(group, requests.size() - first);
      size_t width = 0;
      for (size_t r = 0; r < rows; ++r) width = std::max(width, prompts[first + r].size());
      auto input = torch::full({static_cast<int64_t>(rows), static_cast<int64_t>(width)}, pad_id, torch::kInt64);
      auto real = torch::zeros_like(input);
      bool padded = false;
      for (size_t r = 0; r < rows; ++r) {
        const auto& prompt = prompts[first + r];
        const auto offset = static_cast<int64_t>(width - prompt.size());
        input[static_cast<int64_t>(r)].slice(0, offset).copy_(torch::tensor(prompt, torch::kInt64));
        real[static_cast<int64_t>(r)].slice(0, offset).fill_(1);
        padded = padded || offset > 0;
      }
      WarmUp(input);
      // Each sample of a prompt (a task's `repeats`) draws its own noise.
      torch::manual_seed(options_.seed + static_cast<uint64_t>(requests[first].sample_index));
      const CostClock clock(*device_);
      int64_t calls = 0;
      const auto output =
          LladaGenerate(Net(), input, generate_, &calls, padded ? std::optional<torch::Tensor>(real) : std::nullopt)
              .slice(1, static_cast<int64_t>(width))
              .to(torch::kCPU)
              .contiguous();
      const double seconds = clock.Seconds();
      for (size_t r = 0; r < rows; ++r) {
        const auto row = output[static_cast<int64_t>(r)];
        const std::vector<int32_t> ids(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
        Response response;
        response.text = LladaResponseText(*tokenizer_, ids, requests[first + r].until);
        // The batch's forward passes are every row's; its time is shared.
        response.cost = GenerationCost{calls, TokensBeforeStop(ids, {generate_.eos_id, generate_.eot_id}),
                                       seconds / static_cast<double>(rows)};
        responses.push_back(response);
      }
    }
    return responses;
  }

 private:
  nlohmann::json Settings() const override {
    // max_batch_tokens is left out: packing changes speed, not the numbers
    // beyond float rounding.
    nlohmann::json settings = {{"loglikelihood",
                                {{"mc_num", mc_.mc_num},
                                 {"mc_batch_size", mc_.batch_size},
                                 {"cfg", mc_.cfg_scale},
                                 {"mask_id", mc_.mask_id},
                                 {"seed", options_.seed},
                                 {"is_check_greedy", check_greedy_}}},
                               {"generate_until",
                                {{"gen_length", generate_.gen_length},
                                 {"steps", generate_.steps},
                                 {"block_length", generate_.block_length},
                                 {"temperature", generate_.temperature},
                                 {"remasking", generate_.remasking},
                                 {"cfg", generate_.cfg_scale},
                                 {"mask_id", generate_.mask_id},
                                 {"seed", options_.seed},
                                 {"logits_eos_inf", generate_.logits_eos_inf},
                                 {"confidence_eos_eot_inf", generate_.confidence_eos_eot_inf}}}};
    // Adaptive sampling and the fast modes only when set, so that
    // paper-mode identities (and the request caches keyed on them) stay as
    // they were.
    if (mc_.adaptive)
      settings["loglikelihood"]["mc_adaptive"] = {{"mc_min", mc_.mc_min}, {"confidence", mc_.confidence}};
    nlohmann::json& generation = settings["generate_until"];
    if (generate_.cache != DiffusionCache::kNone)
      generation["cache"] = generate_.cache == DiffusionCache::kPrefix ? "prefix" : "dual";
    if (generate_.threshold) generation["threshold"] = *generate_.threshold;
    if (generate_.factor) generation["factor"] = *generate_.factor;
    if (generate_.early_stop) generation["early_stop"] = true;
    return settings;
  }

  std::vector<std::string> DifferencesFromReference() const override {
    std::vector<std::string> differences;
    if (LowPrecision()) {
      differences.push_back("log-likelihood: cross-entropy and sums in float32 over the " + DtypeName() +
                            " logits; eval_llada.py takes the cross-entropy of the " + DtypeName() + " logits in " +
                            DtypeName() + ", rounding each token's loss");
      differences.push_back("generation: confidences are a float32 softmax over the " + DtypeName() +
                            " logits; generate.py (HEAD) takes it in " + DtypeName() +
                            ", where probabilities near 1 round to 1 and tie");
    }
    if (device_->is_cuda()) {
      differences.push_back(
          "likelihood masks: drawn from the CPU generator on every device, so a seed gives the "
          "masks of a CPU run; eval_llada.py draws the mask count from the CUDA generator there");
      differences.push_back(
          "sampled generation (temperature > 0, remasking=random): Gumbel noise and random "
          "confidences come from the CUDA generator, so a seed gives other samples than on the CPU");
    }
    return differences;
  }

  // eval_llada.py asserts prompt + answer <= max_length (4096); a longer
  // request fails on its own instead of running out of memory.
  void CheckLength(size_t tokens) const {
    const auto limit = static_cast<size_t>(config_.max_positions);
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
  CausalModel(const ModelOptions& options, HfCheckpoint files) : HfModel(options, std::move(files)) {
    const auto& config = config_;
    // HFLM's prefix_token_id: BOS, else EOS; the context of an empty-context request.
    if (config.bos_token_id)
      prefix_token_ = *config.bos_token_id;
    else if (!config.eos_token_ids.empty())
      prefix_token_ = config.eos_token_ids.front();
    stop_ids_ = config.eos_token_ids;
    Configure(options.model_args);
  }

  void Configure(const nlohmann::json& args) override {
    CheckModelArgs(args);
    add_bos_ = Arg<bool>(args, "add_bos_token", false);
    max_gen_toks_ = Arg<int64_t>(args, "max_gen_toks", 256);
    if (max_gen_toks_ < 1) throw UserError("model argument max_gen_toks must be 1 or more");
    identity_.clear();
  }

  // One right-padded forward pass per call (the harness sends requests
  // longest first, so batch mates have similar lengths).
  std::vector<Response> Loglikelihood(const std::vector<Request>& requests) override {
    std::vector<CausalQuery> queries;
    for (const auto& request : requests) {
      CausalQuery query;
      if (request.context.empty()) {
        if (prefix_token_ < 0) throw SampleError("empty context and the model has no BOS/EOS token to stand for it");
        query.context = {prefix_token_};
        query.continuation = Ids(tokenizer_->Encode(request.continuation, add_bos_));
      } else {
        const EncodedPair pair = EncodePair(*tokenizer_, request.context, request.continuation, add_bos_);
        query.context = Ids(pair.context);
        query.continuation = Ids(pair.continuation);
      }
      // HFLM keeps the last max_length + 1 tokens of context + continuation.
      const size_t limit = static_cast<size_t>(config_.max_positions) + 1;
      if (query.continuation.size() >= limit)
        throw SampleError("continuation of " + std::to_string(query.continuation.size()) +
                          " tokens does not fit the model's " + std::to_string(limit - 1) + " positions");
      if (query.context.size() + query.continuation.size() > limit)
        query.context.erase(query.context.begin(),
                            query.context.end() - static_cast<long>(limit - query.continuation.size()));
      queries.push_back(std::move(query));
    }
    std::vector<Response> responses;
    for (const CausalLoglikelihood& result : CausalLogLikelihoods(Net(), queries)) {
      Response response;
      response.loglikelihood = result.loglikelihood;
      response.is_greedy = result.is_greedy;
      responses.push_back(response);
    }
    return responses;
  }

  // One request alone decodes with the KV cache as HFLM does at batch 1;
  // several share a left-padded batch (HFLM's batched generate: pads masked,
  // positions counted from each row's first token), each row cut at its own
  // budget and first stop token.
  std::vector<Response> GenerateUntil(const std::vector<Request>& requests) override {
    std::vector<std::vector<int64_t>> prompts;
    std::vector<int64_t> budgets;
    for (const auto& request : requests) {
      auto prompt = Ids(tokenizer_->Encode(request.context, add_bos_));
      const int64_t budget = request.max_gen_toks.value_or(static_cast<int>(max_gen_toks_));
      // HFLM: the context keeps its last max_length - max_gen_toks tokens.
      const int64_t room = config_.max_positions - budget;
      if (room < 1) throw SampleError("max_gen_toks leaves no room for the context");
      if (static_cast<int64_t>(prompt.size()) > room) prompt.erase(prompt.begin(), prompt.end() - room);
      prompts.push_back(std::move(prompt));
      budgets.push_back(budget);
    }
    const int64_t rows = static_cast<int64_t>(requests.size());
    size_t width = 0;
    for (const auto& prompt : prompts) width = std::max(width, prompt.size());
    auto input = torch::zeros({rows, static_cast<int64_t>(width)}, torch::kInt64);
    auto real = torch::zeros_like(input);
    for (int64_t r = 0; r < rows; ++r) {
      const auto& prompt = prompts[static_cast<size_t>(r)];
      const auto offset = static_cast<int64_t>(width - prompt.size());
      input[r].slice(0, offset).copy_(torch::tensor(prompt, torch::kInt64));
      input[r].slice(0, 0, offset).fill_(prompt.front());  // any id: masked
      real[r].slice(0, offset).fill_(1);
    }
    WarmUp(input);
    const CostClock clock(*device_);
    std::vector<std::vector<int64_t>> generated;
    if (rows == 1) {
      generated.push_back(GreedyGenerate(Net(), prompts[0], budgets[0], stop_ids_));
    } else {
      generated = GreedyGenerateBatch(Net(), input, real, *std::max_element(budgets.begin(), budgets.end()), stop_ids_);
    }
    const double seconds = clock.Seconds();
    int64_t calls = 0;  // one per new token of the longest row (the prompt's pass gives the first)
    for (const auto& row : generated) calls = std::max(calls, static_cast<int64_t>(row.size()));
    std::vector<Response> responses;
    for (int64_t r = 0; r < rows; ++r) {
      auto& row = generated[static_cast<size_t>(r)];
      if (static_cast<int64_t>(row.size()) > budgets[static_cast<size_t>(r)])
        row.resize(static_cast<size_t>(budgets[static_cast<size_t>(r)]));
      const std::vector<int32_t> ids(row.begin(), row.end());
      Response response;
      response.text = HflmResponseText(*tokenizer_, ids, requests[static_cast<size_t>(r)].until);
      response.cost = GenerationCost{calls, TokensBeforeStop(ids, stop_ids_), seconds / static_cast<double>(rows)};
      responses.push_back(response);
    }
    return responses;
  }

 private:
  nlohmann::json Settings() const override {
    return {{"loglikelihood", {{"add_bos_token", add_bos_}}},
            {"generate_until", {{"add_bos_token", add_bos_}, {"max_gen_toks", max_gen_toks_}, {"decoding", "greedy"}}}};
  }

  std::vector<std::string> DifferencesFromReference() const override {
    std::vector<std::string> differences;
    if (LowPrecision())
      differences.push_back("log-likelihood: log-softmax and sums in float32 over the " + DtypeName() +
                            " logits; lm-eval's HFLM sums " + DtypeName() + " log-probabilities");
    if (device_->is_cuda())
      differences.push_back("greedy decoding on CUDA: near-tied logits may order differently from the CPU");
    return differences;
  }

  bool add_bos_ = false;
  int64_t max_gen_toks_ = 256;
  int64_t prefix_token_ = -1;
  std::vector<int64_t> stop_ids_;
};

}  // namespace

namespace {

class LinkedBackend : public TorchBackend {
 public:
  std::unique_ptr<Model> Create(const ModelOptions& options, HfCheckpoint checkpoint) const override {
    if (checkpoint.config.family == ModelFamily::kLLaDA)
      return std::make_unique<LladaModel>(options, std::move(checkpoint));
    return std::make_unique<CausalModel>(options, std::move(checkpoint));
  }
  nlohmann::json InspectLogits(const InspectOptions& options, const nlohmann::json& ids,
                               const nlohmann::json& attention_mask, bool causal,
                               const std::filesystem::path& out) const override {
    return llada::InspectLogits(options, ids, attention_mask, causal, out);
  }
  nlohmann::json InspectLoglik(const InspectOptions& options, const nlohmann::json& prompt_ids,
                               const nlohmann::json& answer_ids, int mc_num, int batch_size, double cfg,
                               bool check_greedy) const override {
    return llada::InspectLoglik(options, prompt_ids, answer_ids, mc_num, batch_size, cfg, check_greedy);
  }
  nlohmann::json InspectGenerate(const InspectOptions& options, const nlohmann::json& prompt_ids,
                                 const nlohmann::json& attention_mask, int64_t steps, int64_t gen_length,
                                 int64_t block_length, double temperature, double cfg,
                                 const std::string& remasking) const override {
    return llada::InspectGenerate(options, prompt_ids, attention_mask, steps, gen_length, block_length, temperature,
                                  cfg, remasking);
  }
};

}  // namespace

const TorchBackend& LinkedTorchBackend() {
  static const LinkedBackend backend;
  return backend;
}

}  // namespace llada
