#include "models/torch/llada_algorithms.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.h"

namespace llada {
namespace {

torch::Tensor LongTensor(const std::vector<int64_t>& values) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kInt64));
}

// get_logits: the model, with classifier-free guidance when cfg_scale > 0
// (the unconditional copy has every prompt position masked).
torch::Tensor GuidedLogits(const Transformer& model, torch::Tensor batch, const torch::Tensor& prompt_index,
                           double cfg_scale, int64_t mask_id) {
  if (cfg_scale <= 0.0) return model.Forward(batch);
  const auto prompt_rows = prompt_index.unsqueeze(0).repeat({batch.size(0), 1});
  auto unconditional = batch.clone();
  unconditional.index_put_({prompt_rows}, mask_id);
  const auto logits = model.Forward(torch::cat({batch, unconditional}));
  const auto chunks = torch::chunk(logits, 2, 0);
  return chunks[1] + (cfg_scale + 1) * (chunks[0] - chunks[1]);
}

// Logits at the rows of `positions` only ([N, V], row-major over the batch),
// with guidance. The head is a large share of the weights (126k x 4096 for
// LLaDA-8B) and the Monte-Carlo loss reads only the masked positions.
torch::Tensor GuidedLogitsAt(const Transformer& model, torch::Tensor batch, const torch::Tensor& prompt_index,
                             double cfg_scale, int64_t mask_id, const torch::Tensor& positions) {
  if (cfg_scale <= 0.0) return model.Head(model.Hidden(batch).index({positions}));
  const auto prompt_rows = prompt_index.unsqueeze(0).repeat({batch.size(0), 1});
  auto unconditional = batch.clone();
  unconditional.index_put_({prompt_rows}, mask_id);
  const auto hidden = model.Hidden(torch::cat({batch, unconditional}));
  const auto chunks = torch::chunk(hidden, 2, 0);
  const auto conditional = model.Head(chunks[0].index({positions}));
  const auto unguided = model.Head(chunks[1].index({positions}));
  return unguided + (cfg_scale + 1) * (conditional - unguided);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> LladaForwardProcess(const torch::Tensor& batch, const torch::Tensor& prompt_index,
                                                            int64_t mask_id) {
  const int64_t b = batch.size(0), l = batch.size(1);
  const int64_t prompt_length = prompt_index.sum().item<int64_t>();
  const int64_t target_length = l - prompt_length;
  // RNG #1: one uniform offset for the whole batch.
  const auto k = torch::randint(1, target_length + 1, {}, torch::TensorOptions().dtype(torch::kInt64).device(batch.device()));
  // k + python float: an int64 tensor plus a double promotes to float32, as in Python.
  const auto end = k + static_cast<double>(b - 1) * (static_cast<double>(target_length) / static_cast<double>(b));
  auto x = torch::round(torch::linspace(static_cast<double>(k.item<int64_t>()), end.item<double>(), b,
                                        torch::TensorOptions().device(batch.device())))
               .to(torch::kInt64);
  x = ((x - 1) % target_length) + 1;
  const auto indices = torch::arange(target_length, torch::TensorOptions().dtype(torch::kInt64).device(batch.device()))
                           .repeat({b, 1});
  auto is_mask = indices < x.unsqueeze(1);
  // RNG #2..b+1: one permutation per row, from the CPU generator.
  for (int64_t i = 0; i < b; ++i) is_mask[i] = is_mask[i].index({torch::randperm(target_length).to(batch.device())});
  is_mask = torch::cat({torch::zeros({b, prompt_length}, torch::TensorOptions().dtype(torch::kBool).device(batch.device())),
                        is_mask},
                       1);
  const auto noisy = torch::where(is_mask, torch::full_like(batch, mask_id), batch);
  const auto p_mask = (x / target_length).unsqueeze(1).repeat({1, l});  // true division: float32
  return {noisy, p_mask};
}

double LladaLogLikelihood(const Transformer& model, const std::vector<int64_t>& prefix,
                          const std::vector<int64_t>& target, const MonteCarloOptions& options,
                          double* standard_error) {
  if (standard_error) *standard_error = 0.0;
  torch::NoGradGuard no_grad;
  if (options.batch_size <= 0 || options.mc_num % options.batch_size != 0)
    throw UserError("mc_num (" + std::to_string(options.mc_num) + ") must be a multiple of the batch size (" +
                    std::to_string(options.batch_size) + ")");
  if (target.empty()) throw SampleError("empty continuation: nothing to score");
  std::vector<int64_t> sequence = prefix;
  sequence.insert(sequence.end(), target.begin(), target.end());
  const auto device = model.device();
  const auto seq = LongTensor(sequence).unsqueeze(0).repeat({options.batch_size, 1}).to(device);
  const auto prompt_index =
      torch::arange(seq.size(1), torch::TensorOptions().dtype(torch::kInt64).device(device)) < static_cast<int64_t>(prefix.size());
  // A one-token continuation: every Monte-Carlo sample masks exactly that
  // token with p_mask = 1, so the bound is exact and one forward pass gives it
  // (MMLU, CMMLU, C-Eval answers). Sequences that already hold mask tokens
  // take the general path, whose mask_index would count them too.
  if (target.size() == 1 && std::find(sequence.begin(), sequence.end(), options.mask_id) == sequence.end()) {
    auto noisy = seq.slice(0, 0, 1).clone();
    noisy.index_put_({0, -1}, options.mask_id);
    const auto last = noisy == options.mask_id;  // the one masked position
    const auto logits = GuidedLogitsAt(model, noisy, prompt_index, options.cfg_scale, options.mask_id, last);
    const auto logprobs = torch::log_softmax(logits[0].to(torch::kFloat32), -1);
    return logprobs[target[0]].item<float>();
  }
  double total = 0.0;
  const int rounds = options.mc_num / options.batch_size;
  std::vector<double> per_sample;  // each sample's weighted loss, for the standard error
  for (int round = 0; round < rounds; ++round) {
    auto [noisy, p_mask] = LladaForwardProcess(seq, prompt_index, options.mask_id);
    const auto mask_index = noisy == options.mask_id;
    const auto logits = GuidedLogitsAt(model, noisy, prompt_index, options.cfg_scale, options.mask_id, mask_index);
    const auto loss = torch::nn::functional::cross_entropy(
                          logits, seq.index({mask_index}),
                          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone)) /
                      p_mask.index({mask_index});
    // loss.sum() / batch_size as a float32 tensor, then .item() into a double: as the reference.
    total += (loss.sum() / options.batch_size).item<float>();
    if (standard_error) {
      auto rows = torch::zeros(noisy.sizes(), loss.options());
      rows.index_put_({mask_index}, loss);
      const auto sums = rows.sum(1).to(torch::kCPU, torch::kFloat64);
      for (int64_t i = 0; i < sums.size(0); ++i) per_sample.push_back(sums[i].item<double>());
    }
  }
  if (standard_error && per_sample.size() > 1) {
    double mean = 0.0, squares = 0.0;
    for (double v : per_sample) mean += v;
    mean /= static_cast<double>(per_sample.size());
    for (double v : per_sample) squares += (v - mean) * (v - mean);
    const double n = static_cast<double>(per_sample.size());
    *standard_error = std::sqrt(squares / (n - 1)) / std::sqrt(n);
  }
  return -total / rounds;
}

bool LladaSuffixGreedy(const Transformer& model, const std::vector<int64_t>& prefix, const std::vector<int64_t>& target,
                       const MonteCarloOptions& options, std::vector<int64_t>* greedy_tokens) {
  torch::NoGradGuard no_grad;
  const auto device = model.device();
  const int64_t length = static_cast<int64_t>(prefix.size() + target.size());
  auto seq = torch::full({1, length}, options.mask_id, torch::TensorOptions().dtype(torch::kInt64).device(device));
  const auto prompt_index =
      torch::arange(length, torch::TensorOptions().dtype(torch::kInt64).device(device)) < static_cast<int64_t>(prefix.size());
  seq.index_put_({0, torch::indexing::Slice(0, static_cast<int64_t>(prefix.size()))}, LongTensor(prefix).to(device));
  for (size_t i = 0; i < target.size(); ++i) {
    const auto mask_index = seq == options.mask_id;
    const auto logits = GuidedLogits(model, seq, prompt_index, options.cfg_scale, options.mask_id).index({mask_index});
    auto x0 = torch::argmax(logits, -1);
    const auto p = torch::softmax(logits.to(torch::kFloat32), -1);
    const auto confidence = torch::gather(p, -1, x0.unsqueeze(-1)).squeeze(-1);
    const auto order = std::get<1>(torch::sort(confidence, /*dim=*/-1, /*descending=*/true));
    x0.index_put_({order.slice(0, 1)}, options.mask_id);  // keep only the most confident prediction
    seq.index_put_({mask_index}, x0.clone());
  }
  const auto predicted = seq[0].slice(0, static_cast<int64_t>(prefix.size())).to(torch::kCPU);
  if (greedy_tokens) {
    greedy_tokens->assign(predicted.data_ptr<int64_t>(), predicted.data_ptr<int64_t>() + predicted.numel());
  }
  return torch::all(predicted == LongTensor(target)).item<bool>();
}

torch::Tensor LladaGenerate(const Transformer& model, const torch::Tensor& prompt, const DiffusionGenerateOptions& o,
                            int64_t* forward_calls, const std::optional<torch::Tensor>& attention_mask) {
  torch::NoGradGuard no_grad;
  if (o.gen_length % o.block_length != 0) throw UserError("gen_length must be a multiple of block_length");
  const int64_t blocks = o.gen_length / o.block_length;
  if (o.steps % blocks != 0) throw UserError("steps must be a multiple of gen_length / block_length");
  const int64_t steps_per_block = o.steps / blocks;
  const auto device = model.device();
  const int64_t batch = prompt.size(0), prompt_length = prompt.size(1);
  auto x = torch::full({batch, prompt_length + o.gen_length}, o.mask_id,
                       torch::TensorOptions().dtype(torch::kInt64).device(device));
  x.slice(1, 0, prompt_length).copy_(prompt.to(device, torch::kInt64));
  const auto prompt_index = x != o.mask_id;  // fixed once, as the reference
  std::optional<torch::Tensor> mask;
  if (attention_mask)
    mask = torch::cat({attention_mask->to(device, torch::kInt64),
                       torch::ones({batch, o.gen_length}, torch::TensorOptions().dtype(torch::kInt64).device(device))},
                      1);
  const double neg_inf = -std::numeric_limits<double>::infinity();
  int64_t calls = 0;
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t block_start = prompt_length + block * o.block_length;
    const auto block_mask = x.slice(1, block_start, block_start + o.block_length) == o.mask_id;
    // get_num_transfer_tokens: an even split, the first `remainder` steps get one more.
    const auto mask_count = block_mask.sum(1, /*keepdim=*/true);
    const auto base = torch::div(mask_count, steps_per_block, "floor");
    const auto remainder = mask_count % steps_per_block;
    auto transfer = torch::zeros({batch, steps_per_block}, torch::TensorOptions().dtype(torch::kInt64).device(device)) + base;
    for (int64_t j = 0; j < batch; ++j) transfer[j].slice(0, 0, remainder[j].item<int64_t>()) += 1;

    for (int64_t step = 0; step < steps_per_block; ++step) {
      const auto mask_index = x == o.mask_id;
      torch::Tensor logits;
      if (o.cfg_scale > 0.0) {
        auto unconditional = x.clone();
        unconditional.index_put_({prompt_index}, o.mask_id);
        const auto both = model.Forward(torch::cat({x, unconditional}),
                                        mask ? std::optional<torch::Tensor>(torch::cat({*mask, *mask})) : std::nullopt);
        const auto chunks = torch::chunk(both, 2, 0);
        logits = chunks[1] + (o.cfg_scale + 1) * (chunks[0] - chunks[1]);
      } else {
        logits = model.Forward(x, mask);
      }
      ++calls;
      if (o.logits_eos_inf) logits.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), o.eos_id}, neg_inf);
      // add_gumbel_noise: at temperature 0 the very same tensor.
      torch::Tensor noisy_logits = logits;
      if (o.temperature != 0.0) {
        const auto l64 = logits.to(torch::kFloat64);
        const auto noise = torch::rand_like(l64, torch::TensorOptions().dtype(torch::kFloat64));
        noisy_logits = l64.exp() / torch::pow(-torch::log(noise), o.temperature);
      }
      auto x0 = torch::argmax(noisy_logits, -1);
      if (o.confidence_eos_eot_inf) {
        // `logits_with_noise[:, :, eos] = logits[:, :, eot] = -inf`: at T=0
        // both names are one tensor, so both ids end up banned.
        noisy_logits.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), o.eos_id}, neg_inf);
        logits.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), o.eot_id}, neg_inf);
      }
      torch::Tensor x0_p;
      if (o.remasking == "low_confidence") {
        const auto p = torch::softmax(logits, -1);
        x0_p = torch::gather(p, -1, x0.unsqueeze(-1)).squeeze(-1);
      } else if (o.remasking == "random") {
        x0_p = torch::rand({x0.size(0), x0.size(1)}, torch::TensorOptions().device(device));
      } else {
        throw UserError("remasking '" + o.remasking + "' is not supported (low_confidence, random)");
      }
      x0_p.slice(1, block_start + o.block_length).fill_(neg_inf);  // never commit beyond the block
      x0 = torch::where(mask_index, x0, x);
      const auto confidence = torch::where(mask_index, x0_p, torch::full_like(x0_p, neg_inf));
      auto transfer_index = torch::zeros_like(x0, torch::TensorOptions().dtype(torch::kBool));
      for (int64_t j = 0; j < batch; ++j) {
        const auto selected = std::get<1>(torch::topk(confidence[j], transfer[j][step].item<int64_t>()));
        transfer_index[j].index_put_({selected}, true);
      }
      x.index_put_({transfer_index}, x0.index({transfer_index}));
    }
  }
  if (forward_calls) *forward_calls = calls;
  return x;
}

}  // namespace llada
