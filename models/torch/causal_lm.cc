#include "models/torch/causal_lm.h"

#include <algorithm>

#include "core/errors.h"

namespace llada {

std::vector<CausalLoglikelihood> CausalLogLikelihoods(const Transformer& model,
                                                      const std::vector<CausalQuery>& queries) {
  torch::NoGradGuard no_grad;
  if (queries.empty()) return {};
  int64_t width = 0;
  for (const auto& q : queries) {
    if (q.context.empty()) throw SampleError("empty context: the caller supplies the prefix token");
    if (q.continuation.empty()) throw SampleError("empty continuation: nothing to score");
    width = std::max(width, static_cast<int64_t>(q.context.size() + q.continuation.size() - 1));
  }
  // Input (context + continuation)[:-1], right-padded with its own first token.
  const int64_t n = static_cast<int64_t>(queries.size());
  auto input = torch::zeros({n, width}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> whole = queries[i].context;
    whole.insert(whole.end(), queries[i].continuation.begin(), queries[i].continuation.end() - 1);
    input[i].fill_(whole.front());
    input[i].slice(0, 0, static_cast<int64_t>(whole.size())).copy_(torch::tensor(whole, torch::kInt64));
  }
  // The last layer's tail and the head only where continuations are read:
  // each row's last n real positions.
  const auto continuations = [&](const torch::Tensor& hidden) {
    std::vector<torch::Tensor> read;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t length = static_cast<int64_t>(queries[i].context.size() + queries[i].continuation.size() - 1);
      read.push_back(hidden[i].slice(0, length - static_cast<int64_t>(queries[i].continuation.size()), length));
    }
    return torch::cat(read);
  };
  const auto hidden = model.Hidden(input, std::nullopt, std::nullopt, nullptr, continuations);
  const auto logprobs = torch::log_softmax(model.Head(hidden), -1).to(torch::kCPU);
  std::vector<CausalLoglikelihood> results;
  int64_t offset = 0;
  for (const auto& q : queries) {
    const int64_t count = static_cast<int64_t>(q.continuation.size());
    const auto tail = logprobs.slice(0, offset, offset + count);  // [n, V]
    offset += count;
    const auto targets = torch::tensor(q.continuation, torch::TensorOptions().dtype(torch::kInt64));
    const auto chosen = torch::gather(tail, 1, targets.unsqueeze(1)).squeeze(1).contiguous();
    const auto greedy = tail.argmax(-1).contiguous();
    CausalLoglikelihood result;
    result.loglikelihood = chosen.sum().item<float>();
    result.is_greedy = torch::equal(greedy, targets);
    result.token_logprobs.assign(chosen.data_ptr<float>(), chosen.data_ptr<float>() + count);
    result.greedy_tokens.assign(greedy.data_ptr<int64_t>(), greedy.data_ptr<int64_t>() + count);
    results.push_back(std::move(result));
  }
  return results;
}

CausalLoglikelihood CausalLogLikelihood(const Transformer& model, const std::vector<int64_t>& context,
                                        const std::vector<int64_t>& continuation) {
  return CausalLogLikelihoods(model, {{context, continuation}}).at(0);
}

std::vector<int64_t> GreedyGenerate(const Transformer& model, const std::vector<int64_t>& prompt,
                                    int64_t max_new_tokens, const std::vector<int64_t>& stop_ids,
                                    std::vector<int64_t>* step_input_lengths) {
  torch::NoGradGuard no_grad;
  if (prompt.empty()) throw SampleError("empty prompt");
  KvCache cache;
  std::vector<int64_t> generated;
  auto input = torch::tensor(prompt, torch::TensorOptions().dtype(torch::kInt64)).unsqueeze(0);
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    if (step_input_lengths) step_input_lengths->push_back(input.size(1));
    const auto logits = model.Forward(input, std::nullopt, std::nullopt, &cache);
    const int64_t next = logits[0][-1].argmax(-1).item<int64_t>();
    generated.push_back(next);
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
    input = torch::tensor({next}, torch::TensorOptions().dtype(torch::kInt64)).unsqueeze(0);
  }
  return generated;
}

std::vector<std::vector<int64_t>> GreedyGenerateBatch(const Transformer& model, const torch::Tensor& prompt_ids,
                                                      const torch::Tensor& attention_mask, int64_t max_new_tokens,
                                                      const std::vector<int64_t>& stop_ids) {
  torch::NoGradGuard no_grad;
  if (prompt_ids.dim() != 2 || prompt_ids.size(1) == 0) throw SampleError("empty prompt");
  if (!attention_mask.sizes().equals(prompt_ids.sizes()))
    throw UserError("the attention mask must have the prompt's shape");
  const int64_t batch = prompt_ids.size(0);
  auto mask = attention_mask.to(torch::kInt64);
  // prepare_inputs_for_generation: position_ids = cumsum(mask) - 1, pads at 1.
  auto positions_of = [](const torch::Tensor& m) {
    auto positions = m.cumsum(-1) - 1;
    return positions.masked_fill_(m == 0, 1);
  };
  KvCache cache;
  std::vector<std::vector<int64_t>> generated(static_cast<size_t>(batch));
  auto input = prompt_ids.to(torch::kInt64);
  auto positions = positions_of(mask);
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    const auto logits = model.Forward(input, mask, positions, &cache);
    const auto next = logits.select(1, -1).argmax(-1).to(torch::kCPU).contiguous();  // [B]
    bool all_stopped = true;
    for (int64_t b = 0; b < batch; ++b) {
      auto& row = generated[static_cast<size_t>(b)];
      const bool stopped = !row.empty() && std::find(stop_ids.begin(), stop_ids.end(), row.back()) != stop_ids.end();
      if (!stopped) row.push_back(next[b].item<int64_t>());
      all_stopped = all_stopped && std::find(stop_ids.begin(), stop_ids.end(), row.back()) != stop_ids.end();
    }
    if (all_stopped) break;
    input = next.view({batch, 1});
    mask = torch::cat({mask, torch::ones({batch, 1}, torch::kInt64)}, 1);
    positions = positions_of(mask).slice(1, -1);
  }
  return generated;
}

}  // namespace llada
