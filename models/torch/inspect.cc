#include "models/torch/inspect.h"

#include "models/model.h"

#include "core/errors.h"
#include "core/file_io.h"
#include "models/torch/causal_lm.h"
#include "models/torch/llada_algorithms.h"
#include "models/torch/transformer.h"

namespace llada {
namespace {

std::unique_ptr<Transformer> LoadTransformer(const InspectOptions& options, bool force_causal = false) {
  TransformerConfig config = ReadTransformerConfig(options.model);
  if (force_causal) config.causal = true;
  const auto checkpoint = Checkpoint::Open(options.model);
  CheckDeviceAndDtype(options.device, options.dtype);
  const torch::Device device = ParseDevice(options.device);
  const torch::ScalarType dtype = ParseDtype(options.dtype, device);
  return std::make_unique<Transformer>(config, *checkpoint, device, dtype);
}

torch::Tensor Matrix(const nlohmann::json& rows, const char* flag) {
  if (!rows.is_array() || rows.empty()) throw UserError(std::string(flag) + ": expected a JSON array of id rows");
  // A flat list is one row.
  const nlohmann::json matrix = rows.at(0).is_array() ? rows : nlohmann::json::array({rows});
  std::vector<int64_t> flat;
  const size_t width = matrix.at(0).size();
  for (const auto& row : matrix) {
    if (!row.is_array() || row.size() != width) throw UserError(std::string(flag) + ": rows must have equal lengths");
    for (const auto& id : row) flat.push_back(id.get<int64_t>());
  }
  return torch::tensor(flat, torch::kInt64).view({static_cast<int64_t>(matrix.size()), static_cast<int64_t>(width)});
}

void Seed(const InspectOptions& options) {
  if (options.seed) torch::manual_seed(*options.seed);
}

}  // namespace

nlohmann::json InspectLogits(const InspectOptions& options, const nlohmann::json& ids,
                             const nlohmann::json& attention_mask, bool causal, const std::filesystem::path& out) {
  const auto model = LoadTransformer(options, causal);
  std::optional<torch::Tensor> mask;
  if (!attention_mask.is_null()) mask = Matrix(attention_mask, "--attention-mask");
  const auto logits = model->Forward(Matrix(ids, "--ids"), mask).to(torch::kCPU).contiguous();
  WriteFileAtomically(out, std::string(reinterpret_cast<const char*>(logits.data_ptr<float>()),
                                       static_cast<size_t>(logits.numel()) * sizeof(float)));
  return {{"shape", logits.sizes().vec()}, {"file", out.string()}};
}

nlohmann::json InspectLoglik(const InspectOptions& options, const nlohmann::json& prompt_ids,
                             const nlohmann::json& answer_ids, int mc_num, int batch_size, double cfg, bool check_greedy) {
  const auto model = LoadTransformer(options);
  const auto prompt = prompt_ids.get<std::vector<int64_t>>();
  const auto answer = answer_ids.get<std::vector<int64_t>>();
  if (model->config().causal) {
    const CausalLoglikelihood result = CausalLogLikelihood(*model, prompt, answer);
    return {{"loglik", result.loglikelihood}, {"greedy", result.is_greedy}, {"stderr", 0.0}};
  }
  MonteCarloOptions mc;
  mc.mc_num = mc_num;
  mc.batch_size = batch_size;
  mc.cfg_scale = cfg;
  mc.mask_id = model->config().mask_token_id.value_or(126336);
  Seed(options);
  double standard_error = 0.0;
  const double loglik = LladaLogLikelihood(*model, prompt, answer, mc, &standard_error);
  const bool greedy = check_greedy && LladaSuffixGreedy(*model, prompt, answer, mc);
  return {{"loglik", loglik}, {"greedy", greedy}, {"stderr", standard_error}};
}

nlohmann::json InspectGenerate(const InspectOptions& options, const nlohmann::json& prompt_ids,
                               const nlohmann::json& attention_mask, int64_t steps, int64_t gen_length,
                               int64_t block_length, double temperature, double cfg, const std::string& remasking) {
  const auto model = LoadTransformer(options);
  const auto prompt = Matrix(prompt_ids, "--prompt-ids");
  if (model->config().causal) {
    const torch::Tensor mask =
        attention_mask.is_null() ? torch::ones_like(prompt) : Matrix(attention_mask, "--attention-mask");
    const auto generated = GreedyGenerateBatch(*model, prompt, mask, gen_length);
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t b = 0; b < prompt.size(0); ++b) {
      const auto row = prompt[b];
      std::vector<int64_t> ids(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
      ids.insert(ids.end(), generated[static_cast<size_t>(b)].begin(), generated[static_cast<size_t>(b)].end());
      rows.push_back(ids);
    }
    return {{"ids", rows}};
  }
  DiffusionGenerateOptions o;
  o.steps = steps;
  o.gen_length = gen_length;
  o.block_length = block_length;
  o.temperature = temperature;
  o.cfg_scale = cfg;
  o.remasking = remasking;
  o.mask_id = model->config().mask_token_id.value_or(126336);
  if (!model->config().eos_token_ids.empty()) o.eos_id = model->config().eos_token_ids.front();
  std::optional<torch::Tensor> mask;
  if (!attention_mask.is_null()) mask = Matrix(attention_mask, "--attention-mask");
  Seed(options);
  const auto output = LladaGenerate(*model, prompt, o, nullptr, mask).to(torch::kCPU).contiguous();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t b = 0; b < output.size(0); ++b)
    rows.push_back(std::vector<int64_t>(output[b].data_ptr<int64_t>(), output[b].data_ptr<int64_t>() + output.size(1)));
  return {{"ids", rows}};
}

}  // namespace llada
