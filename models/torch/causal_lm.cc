#include "models/torch/causal_lm.h"

#include <algorithm>

#include "core/errors.h"

namespace llada {

CausalLoglikelihood CausalLogLikelihood(const Transformer& model, const std::vector<int64_t>& context,
                                        const std::vector<int64_t>& continuation) {
  torch::NoGradGuard no_grad;
  if (context.empty()) throw SampleError("empty context: the caller supplies the prefix token");
  if (continuation.empty()) throw SampleError("empty continuation: nothing to score");
  std::vector<int64_t> whole = context;
  whole.insert(whole.end(), continuation.begin(), continuation.end());
  whole.pop_back();
  const auto input = torch::tensor(whole, torch::TensorOptions().dtype(torch::kInt64)).unsqueeze(0);
  const int64_t n = static_cast<int64_t>(continuation.size());
  // The head only where the continuation is read: the last n positions.
  const auto hidden = model.Hidden(input)[0];
  const auto tail = torch::log_softmax(model.Head(hidden.slice(0, hidden.size(0) - n)), -1).to(torch::kCPU);  // [n, V]
  const auto targets = torch::tensor(continuation, torch::TensorOptions().dtype(torch::kInt64));
  const auto chosen = torch::gather(tail, 1, targets.unsqueeze(1)).squeeze(1);
  const auto greedy = tail.argmax(-1);
  CausalLoglikelihood result;
  result.loglikelihood = chosen.sum().item<float>();
  result.is_greedy = torch::equal(greedy, targets);
  result.token_logprobs.assign(chosen.data_ptr<float>(), chosen.data_ptr<float>() + n);
  result.greedy_tokens.assign(greedy.data_ptr<int64_t>(), greedy.data_ptr<int64_t>() + n);
  return result;
}

std::vector<int64_t> GreedyGenerate(const Transformer& model, const std::vector<int64_t>& prompt, int64_t max_new_tokens,
                                    const std::vector<int64_t>& stop_ids, std::vector<int64_t>* step_input_lengths) {
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

}  // namespace llada
