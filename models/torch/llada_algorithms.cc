#include "models/torch/llada_algorithms.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "core/errors.h"
#include "models/torch/device_memory.h"

namespace llada {
namespace {

torch::Tensor LongTensor(const std::vector<int64_t>& values) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kInt64));
}

// get_logits: the logits at the positions `read` picks from the hidden
// states, with classifier-free guidance when cfg_scale > 0 (the unconditional
// copy has every prompt position masked; both copies in one forward pass).
// `prompt_positions` has `input`'s shape. The head runs only where `read`
// reads, once per copy.
torch::Tensor GuidedLogits(const Transformer& model, const torch::Tensor& input, const torch::Tensor& prompt_positions,
                           double cfg_scale, int64_t mask_id, const std::optional<torch::Tensor>& attention_mask,
                           const PositionReader& read) {
  if (cfg_scale <= 0.0) return model.Head(model.Hidden(input, attention_mask, std::nullopt, nullptr, read));
  auto unconditional = input.clone();
  unconditional.index_put_({prompt_positions}, mask_id);
  std::optional<torch::Tensor> both_mask;
  if (attention_mask) both_mask = torch::cat({*attention_mask, *attention_mask});
  const auto read_both = [&](const torch::Tensor& hidden) {
    const auto copies = torch::chunk(hidden, 2, 0);
    return torch::cat({read(copies[0]), read(copies[1])});
  };
  const auto chunks =
      torch::chunk(model.Hidden(torch::cat({input, unconditional}), both_mask, std::nullopt, nullptr, read_both), 2, 0);
  const auto conditional = model.Head(chunks[0]), unguided = model.Head(chunks[1]);
  return unguided + (cfg_scale + 1) * (conditional - unguided);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> LladaForwardProcess(const torch::Tensor& batch,
                                                            const torch::Tensor& prompt_index, int64_t mask_id) {
  const int64_t b = batch.size(0), l = batch.size(1);
  const int64_t prompt_length = prompt_index.sum().item<int64_t>();
  const int64_t target_length = l - prompt_length;
  // RNG #1: one uniform offset for the whole batch.
  const auto k =
      torch::randint(1, target_length + 1, {}, torch::TensorOptions().dtype(torch::kInt64).device(batch.device()));
  // k + python float: an int64 tensor plus a double promotes to float32, as in Python.
  const auto end = k + static_cast<double>(b - 1) * (static_cast<double>(target_length) / static_cast<double>(b));
  auto x = torch::round(torch::linspace(static_cast<double>(k.item<int64_t>()), end.item<double>(), b,
                                        torch::TensorOptions().device(batch.device())))
               .to(torch::kInt64);
  x = ((x - 1) % target_length) + 1;
  const auto indices =
      torch::arange(target_length, torch::TensorOptions().dtype(torch::kInt64).device(batch.device())).repeat({b, 1});
  auto is_mask = indices < x.unsqueeze(1);
  // RNG #2..b+1: one permutation per row, from the CPU generator.
  for (int64_t i = 0; i < b; ++i) is_mask[i] = is_mask[i].index({torch::randperm(target_length).to(batch.device())});
  is_mask = torch::cat(
      {torch::zeros({b, prompt_length}, torch::TensorOptions().dtype(torch::kBool).device(batch.device())), is_mask},
      1);
  const auto noisy = torch::where(is_mask, torch::full_like(batch, mask_id), batch);
  const auto p_mask = (x / target_length).unsqueeze(1).repeat({1, l});  // true division: float32
  return {noisy, p_mask};
}

namespace {

// One query's Monte-Carlo samples: the clean sequence, the noisy rows and
// each row's mask probability (constant along the row).
struct DrawnQuery {
  torch::Tensor sequence;  // [L]
  torch::Tensor noisy;     // [R, L]
  torch::Tensor p_mask;    // [R]
  int64_t prompt_length = 0;
  int rounds = 1, rows_per_round = 1;
};

DrawnQuery DrawSamples(const LikelihoodQuery& query, const MonteCarloOptions& options) {
  if (query.target.empty()) throw SampleError("empty continuation: nothing to score");
  std::vector<int64_t> sequence = query.prefix;
  sequence.insert(sequence.end(), query.target.begin(), query.target.end());
  DrawnQuery drawn;
  drawn.sequence = LongTensor(sequence);
  drawn.prompt_length = static_cast<int64_t>(query.prefix.size());
  // A one-token continuation: every Monte-Carlo sample masks exactly that
  // token with p_mask = 1, so the bound is exact and one row gives it
  // (MMLU, CMMLU, C-Eval answers). Sequences that already hold mask tokens
  // take the general path, whose mask_index would count them too.
  if (query.target.size() == 1 && std::find(sequence.begin(), sequence.end(), options.mask_id) == sequence.end()) {
    drawn.noisy = drawn.sequence.clone().unsqueeze(0);
    drawn.noisy.index_put_({0, -1}, options.mask_id);
    drawn.p_mask = torch::ones({1}, torch::kFloat32);
    return drawn;
  }
  drawn.rounds = options.mc_num / options.batch_size;
  drawn.rows_per_round = options.batch_size;
  const auto seq = drawn.sequence.unsqueeze(0).repeat({options.batch_size, 1});
  const auto prompt_index = torch::arange(seq.size(1), torch::kInt64) < drawn.prompt_length;
  std::vector<torch::Tensor> noisy, p_mask;
  for (int round = 0; round < drawn.rounds; ++round) {
    auto [rows, p] = LladaForwardProcess(seq, prompt_index, options.mask_id);
    noisy.push_back(rows);
    p_mask.push_back(p.select(1, 0));
  }
  drawn.noisy = torch::cat(noisy);
  drawn.p_mask = torch::cat(p_mask);
  return drawn;
}

struct RowRef {
  size_t query;
  int64_t row;
};

// A distinct Monte-Carlo row and every (query, row) that feeds the model
// exactly this input: the same tokens after masking (and, with CFG, the same
// prompt length, which decides the unconditional copy). Its logits are
// computed once; each user reads its own targets and weight from them.
struct DistinctRow {
  RowRef representative;
  std::vector<RowRef> users;
};

// One packed forward pass over distinct rows: for every user, its weighted
// losses at the row's masked positions, in row-major order as the
// reference's boolean indexing yields them. -log_softmax(logits)[target] is
// what cross_entropy computes, so a row shared by several users gives each
// the numbers it would get alone.
std::map<std::pair<size_t, int64_t>, torch::Tensor> PackedRowLosses(const Transformer& model,
                                                                    const std::vector<DrawnQuery>& drawn,
                                                                    const std::vector<const DistinctRow*>& rows,
                                                                    const MonteCarloOptions& options) {
  const auto device = model.device();
  int64_t width = 0;
  bool ragged = false;
  for (const auto* distinct : rows) {
    const int64_t length = drawn[distinct->representative.query].sequence.size(0);
    if (width != 0 && length != width) ragged = true;
    width = std::max(width, length);
  }
  const int64_t n = static_cast<int64_t>(rows.size());
  auto input = torch::full({n, width}, options.mask_id, torch::kInt64);
  auto real = torch::zeros({n, width}, torch::kBool);
  auto prompt = torch::zeros({n, width}, torch::kBool);
  for (int64_t i = 0; i < n; ++i) {
    const RowRef& ref = rows[static_cast<size_t>(i)]->representative;
    const DrawnQuery& q = drawn[ref.query];
    const int64_t length = q.sequence.size(0);
    input[i].slice(0, 0, length).copy_(q.noisy[ref.row]);
    real[i].slice(0, 0, length).fill_(true);
    prompt[i].slice(0, 0, q.prompt_length).fill_(true);
  }
  const auto selected = (input == options.mask_id) & real;
  std::optional<torch::Tensor> attention_mask;
  if (ragged) attention_mask = real.to(device, torch::kInt64);
  const auto selected_on_device = selected.to(device);
  const torch::Tensor logits =
      GuidedLogits(model, input.to(device), prompt.to(device), options.cfg_scale, options.mask_id, attention_mask,
                   [&](const torch::Tensor& hidden) { return hidden.index({selected_on_device}); });
  const auto log_probs = torch::log_softmax(logits, -1);  // [selected positions, V]
  // Every user's (logit row, target, weight), gathered in one indexing pass.
  std::vector<int64_t> pick, target;
  std::vector<float> weight;
  std::vector<std::pair<RowRef, int64_t>> spans;  // user, its number of masked positions
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto positions = selected[i].nonzero().squeeze(1).contiguous();
    const int64_t count = positions.size(0);
    const int64_t* at = positions.data_ptr<int64_t>();
    for (const RowRef& user : rows[static_cast<size_t>(i)]->users) {
      const DrawnQuery& q = drawn[user.query];
      const int64_t* clean = q.sequence.data_ptr<int64_t>();
      const float w = q.p_mask[user.row].item<float>();
      for (int64_t k = 0; k < count; ++k) {
        pick.push_back(offset + k);
        target.push_back(clean[at[k]]);
        weight.push_back(w);
      }
      spans.push_back({user, count});
    }
    offset += count;
  }
  const auto options_long = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const auto chosen = log_probs.index_select(0, torch::tensor(pick, options_long))
                          .gather(1, torch::tensor(target, options_long).unsqueeze(1))
                          .squeeze(1);
  const auto loss =
      (-chosen / torch::tensor(weight, torch::TensorOptions().dtype(torch::kFloat32).device(device))).to(torch::kCPU);
  std::map<std::pair<size_t, int64_t>, torch::Tensor> per_user;
  int64_t at = 0;
  for (const auto& [user, count] : spans) {
    per_user[{user.query, user.row}] = loss.slice(0, at, at + count);
    at += count;
  }
  return per_user;
}

}  // namespace

void CheckMonteCarloOptions(const MonteCarloOptions& o) {
  if (o.mc_num < 1 || o.batch_size < 1 || o.mc_num % o.batch_size != 0)
    throw UserError("model arguments: mc_num (" + std::to_string(o.mc_num) +
                    ") must be a positive multiple of mc_batch_size (" + std::to_string(o.batch_size) + ")");
  if (!std::isfinite(o.cfg_scale) || o.cfg_scale < 0)
    throw UserError("model arguments: cfg must be a finite number of 0 or more");
  if (o.max_batch_tokens < 0) throw UserError("model arguments: max_batch_tokens must be 0 (automatic) or more");
  if (!o.adaptive) return;
  if (o.mc_min < 8 || o.mc_min > o.mc_num || o.mc_min % o.batch_size != 0)
    throw UserError("model arguments: mc_min (" + std::to_string(o.mc_min) +
                    ") must be at least 8 (the test's variance needs rows), at most mc_num (" +
                    std::to_string(o.mc_num) + ") and a multiple of mc_batch_size (" + std::to_string(o.batch_size) +
                    ")");
  if (!(o.confidence >= 0.5 && o.confidence < 1.0))
    throw UserError("model arguments: mc_confidence must be at least 0.5 and below 1");
}

void CheckGenerateOptions(const DiffusionGenerateOptions& o) {
  if (o.gen_length < 1 || o.block_length < 1 || o.steps < 1 || o.gen_length % o.block_length != 0 ||
      o.steps % (o.gen_length / o.block_length) != 0)
    throw UserError("model arguments: gen_length (" + std::to_string(o.gen_length) +
                    ") must be a multiple of block_length (" + std::to_string(o.block_length) + "), and steps (" +
                    std::to_string(o.steps) + ") a multiple of the number of blocks");
  if (!std::isfinite(o.temperature) || o.temperature < 0)
    throw UserError("model arguments: temperature must be a finite number of 0 or more");
  if (!std::isfinite(o.cfg_scale) || o.cfg_scale < 0)
    throw UserError("model arguments: cfg must be a finite number of 0 or more");
  if (o.remasking != "low_confidence" && o.remasking != "random")
    throw UserError("model arguments: remasking '" + o.remasking + "' (expected low_confidence or random)");
  if (o.threshold && std::isnan(*o.threshold)) throw UserError("model arguments: threshold must be a number");
  if (o.factor && !(*o.factor > 0 && std::isfinite(*o.factor)))
    throw UserError("model arguments: factor must be a finite number above 0");
  if (o.cache != DiffusionCache::kNone && o.cfg_scale > 0)
    throw UserError("model arguments: cfg needs cache=none (a cached pass has no unconditional copy)");
}

namespace {

// Every drawn row, with the rows equal after masking merged: the four
// one-token answers of an MMLU question share one row (the context and a
// mask); a short continuation has few distinct masks. A distinct row is
// computed once, for every (query, row) that reads it, the first time any of
// them is wanted.
class RowLosses {
 public:
  RowLosses(const std::vector<DrawnQuery>& drawn, const MonteCarloOptions& options) : drawn_(drawn) {
    losses_.resize(drawn.size());
    values_.resize(drawn.size());
    distinct_of_.resize(drawn.size());
    std::map<std::pair<int64_t, std::vector<int64_t>>, size_t> index_of;
    for (size_t q = 0; q < drawn.size(); ++q) {
      const auto& noisy = drawn[q].noisy;
      losses_[q].resize(static_cast<size_t>(noisy.size(0)));
      values_[q].resize(static_cast<size_t>(noisy.size(0)));
      for (int64_t row = 0; row < noisy.size(0); ++row) {
        const auto tokens = noisy[row].contiguous();
        std::pair<int64_t, std::vector<int64_t>> key{
            options.cfg_scale > 0 ? drawn[q].prompt_length : -1,
            {tokens.data_ptr<int64_t>(), tokens.data_ptr<int64_t>() + tokens.numel()}};
        auto [it, fresh] = index_of.emplace(std::move(key), distinct_.size());
        if (fresh) distinct_.push_back({{q, row}, {}});
        distinct_[it->second].users.push_back({q, row});
        distinct_of_[q].push_back(it->second);
      }
    }
    computed_.assign(distinct_.size(), false);
  }

  // Computes what `wanted` needs and was not computed yet, packed in order
  // into forward passes of at most `budget` tokens.
  void Compute(const Transformer& model, const std::vector<RowRef>& wanted, const MonteCarloOptions& options,
               int64_t budget) {
    std::vector<const DistinctRow*> pending;
    int64_t pending_width = 0;
    auto flush = [&] {
      if (pending.empty()) return;
      ComputeSplittingWhenOutOfMemory(model, pending, options);
      pending.clear();
      pending_width = 0;
    };
    for (const RowRef& ref : wanted) {
      const size_t index = distinct_of_[ref.query][static_cast<size_t>(ref.row)];
      if (computed_[index]) continue;
      computed_[index] = true;
      const int64_t length = drawn_[ref.query].sequence.size(0);
      const int64_t width = std::max(pending_width, length);
      if (!pending.empty() && static_cast<int64_t>(pending.size() + 1) * width > budget) flush();
      pending.push_back(&distinct_[index]);
      pending_width = std::max(pending_width, length);
    }
    flush();
  }

  const torch::Tensor& Loss(size_t query, int64_t row) const { return losses_[query][static_cast<size_t>(row)]; }
  // The row's weighted loss sum (one Monte-Carlo sample's value), as a
  // float32 sum: the estimate is minus the mean of a query's values.
  double Value(size_t query, int64_t row) const { return values_[query][static_cast<size_t>(row)]; }

  // Each query's share of the rows computed: a computed row is split evenly
  // among the rows used (`used(q)` first rows of query q) that read it.
  std::vector<double> ComputedShares(const std::function<int64_t(size_t)>& used) const {
    std::vector<double> share(drawn_.size(), 0.0);
    for (size_t index = 0; index < distinct_.size(); ++index) {
      if (!computed_[index]) continue;
      std::vector<size_t> readers;
      for (const RowRef& user : distinct_[index].users)
        if (user.row < used(user.query)) readers.push_back(user.query);
      for (size_t q : readers) share[q] += 1.0 / static_cast<double>(readers.size());
    }
    return share;
  }

 private:
  // One packed pass; out of device memory, the two halves in turn.
  void ComputeSplittingWhenOutOfMemory(const Transformer& model, const std::vector<const DistinctRow*>& rows,
                                       const MonteCarloOptions& options) {
    int64_t width = 0;
    for (const auto* row : rows) width = std::max(width, drawn_[row->representative.query].sequence.size(0));
    const int64_t tokens = width * static_cast<int64_t>(rows.size());
    try {
      if (options.test_out_of_memory_above_tokens > 0 && tokens > options.test_out_of_memory_above_tokens)
        throw c10::OutOfMemoryError({__func__, __FILE__, static_cast<uint32_t>(__LINE__)},
                                    "simulated: out of memory (test_out_of_memory_above_tokens)");
      for (auto& [ref, loss] : PackedRowLosses(model, drawn_, rows, options)) {
        values_[ref.first][static_cast<size_t>(ref.second)] = loss.sum().item<float>();
        losses_[ref.first][static_cast<size_t>(ref.second)] = std::move(loss);
      }
    } catch (const c10::OutOfMemoryError&) {
      if (rows.size() == 1)
        throw SampleError("one Monte-Carlo row of " + std::to_string(width) + " tokens does not fit in " +
                          model.device().str() + " memory");
      static bool said = false;
      if (!said) {
        std::cerr << "llada-eval: note: a likelihood pass of " << rows.size() << " rows x " << width
                  << " tokens ran out of " << model.device().str()
                  << " memory; passes that do are split in halves (set max_batch_tokens to choose the size)\n";
        said = true;
      }
      const auto middle = rows.begin() + static_cast<long>(rows.size() / 2);
      ComputeSplittingWhenOutOfMemory(model, {rows.begin(), middle}, options);
      ComputeSplittingWhenOutOfMemory(model, {middle, rows.end()}, options);
    }
  }

  const std::vector<DrawnQuery>& drawn_;
  std::vector<DistinctRow> distinct_;
  std::vector<std::vector<size_t>> distinct_of_;  // [query][row] -> distinct row
  std::vector<bool> computed_;
  std::vector<std::vector<torch::Tensor>> losses_;  // [query][row]; undefined until computed
  std::vector<std::vector<double>> values_;         // [query][row]: losses_' sums
};

// Device memory one token of a likelihood pass may hold at its peak, with
// rows `length` long: a layer's activations (hidden states, the MLP's
// intermediates, one head's worth of attention scores per head) in the
// compute dtype, and float32 logits and log-probabilities at a position that
// is masked (at worst every one).
int64_t PassBytesPerToken(const Transformer& model, int64_t length) {
  const auto& c = model.config();
  const int64_t element = static_cast<int64_t>(c10::elementSize(model.dtype()));
  return element * (6 * c.hidden_size + 3 * c.intermediate_size + 2 * c.num_heads * length) + 8 * c.vocab_size;
}

// One choice as the adaptive test sees it: its per-row values (the row's
// weighted loss sum; the estimate is minus their mean) over the rows used.
struct ChoiceSamples {
  std::vector<double> values;
  double normalizer = 1.0;
};

double Mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double SampleVariance(const std::vector<double>& values) {
  if (values.size() < 2) return 0.0;
  const double mean = Mean(values);
  double squares = 0.0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return squares / static_cast<double>(values.size() - 1);
}

// Does the first place (by the normalized score -mean/normalizer) beat every
// other choice by `tail` (the one-sided level of one comparison)?
bool FirstPlaceSettled(const std::vector<ChoiceSamples>& choices, bool per_code_point, double tail) {
  std::vector<double> score;
  for (const auto& c : choices) score.push_back(-Mean(c.values) / (per_code_point ? c.normalizer : 1.0));
  size_t leader = 0;  // the first index of the maximum, as the metrics' ArgMax
  for (size_t i = 1; i < choices.size(); ++i)
    if (score[i] > score[leader]) leader = i;
  const ChoiceSamples& a = choices[leader];
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i == leader) continue;
    const ChoiceSamples& b = choices[i];
    const double scale_a = per_code_point ? a.normalizer : 1.0, scale_b = per_code_point ? b.normalizer : 1.0;
    const double gap = score[leader] - score[i];
    double se = 0.0, dof = 0.0;
    if (a.values.size() == b.values.size() && a.values.size() > 1) {
      // Paired by row: equal-length choices share their masks.
      std::vector<double> difference(a.values.size());
      for (size_t r = 0; r < difference.size(); ++r) difference[r] = b.values[r] / scale_b - a.values[r] / scale_a;
      se = std::sqrt(SampleVariance(difference) / static_cast<double>(difference.size()));
      dof = static_cast<double>(difference.size() - 1);
    } else {
      const double na = static_cast<double>(a.values.size()), nb = static_cast<double>(b.values.size());
      se = std::sqrt(SampleVariance(a.values) / (scale_a * scale_a) / na +
                     SampleVariance(b.values) / (scale_b * scale_b) / nb);
      // Conservative degrees of freedom: the smaller sample's (an exact
      // one-token choice has one row and no variance).
      dof = std::max(1.0, std::min(na > 1 ? na - 1 : nb - 1, nb > 1 ? nb - 1 : na - 1));
    }
    if (se == 0.0) continue;  // neither can move: the order is final
    if (gap <= StudentQuantile(1.0 - tail, dof) * se) return false;
  }
  return true;
}

}  // namespace

double StudentQuantile(double one_minus_alpha, double dof) {
  if (!(one_minus_alpha > 0.5 && one_minus_alpha < 1.0) || !(dof >= 1.0))
    throw InternalError("StudentQuantile: need 0.5 < 1 - alpha < 1 and dof >= 1");
  // The normal quantile by bisection on erfc (monotone; 200 halvings reach double precision).
  const double tail = 1.0 - one_minus_alpha;
  double low = 0.0, high = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (low + high);
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > tail ? low : high) = mid;
  }
  const double z = 0.5 * (low + high), z2 = z * z, n = dof;
  // Hill (1970) / Abramowitz & Stegun 26.7.5.
  const double g1 = (z2 + 1) * z / 4;
  const double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
  const double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
  const double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
  return z + g1 / n + g2 / (n * n) + g3 / (n * n * n) + g4 / (n * n * n * n);
}

std::vector<LikelihoodEstimate> LladaLogLikelihoods(const Transformer& model,
                                                    const std::vector<LikelihoodQuery>& queries,
                                                    const MonteCarloOptions& options,
                                                    std::optional<uint64_t> seed_each) {
  torch::NoGradGuard no_grad;
  CheckMonteCarloOptions(options);
  // 1. Every query's masks, all mc_num of them, drawn as the reference draws
  //    them (forward passes draw nothing, so drawing first changes no number;
  //    an adaptive run reads the first rows of a full run's draws).
  std::vector<DrawnQuery> drawn;
  int64_t longest = 0;
  for (const auto& query : queries) {
    if (seed_each) torch::manual_seed(*seed_each);
    drawn.push_back(DrawSamples(query, options));
    longest = std::max(longest, drawn.back().sequence.size(0));
  }
  // 2. The budget of a forward pass, in tokens. Default: the reference's batch on a GPU; on a CPU at most 4 rows, since
  // larger passes ran slower per token here (bench/: 9.5k tokens/s at 1-4 rows,
  // 2.6-6.4k at 16-32 rows, small LLaDA, LibTorch 1.13).
  const int64_t rows_per_pass = model.device().is_cuda() ? options.batch_size : std::min(options.batch_size, 4);
  int64_t budget = options.max_batch_tokens > 0 ? options.max_batch_tokens : rows_per_pass * longest;
  if (options.max_batch_tokens == 0)
    if (const auto free = FreeDeviceMemoryBytes(model.device()))
      budget = std::max(longest, std::min(budget, *free * 3 / 4 / PassBytesPerToken(model, longest)));
  // 3. How many rounds each query reads: all of them, except the sampled
  //    choices of an adaptive group, which start at mc_min rows.
  std::map<int64_t, std::vector<size_t>> groups;
  if (options.adaptive)
    for (size_t q = 0; q < queries.size(); ++q)
      if (queries[q].group >= 0 && queries[q].ranking) groups[queries[q].group].push_back(q);
  std::vector<int> rounds_used(drawn.size()), rounds_done(drawn.size(), 0);
  for (size_t q = 0; q < drawn.size(); ++q) rounds_used[q] = drawn[q].rounds;
  std::map<int64_t, int> looks;  // the early stops a group can make
  for (auto it = groups.begin(); it != groups.end();) {
    int most = 1;
    for (size_t q : it->second) most = std::max(most, drawn[q].rounds);
    const int first = options.mc_min / options.batch_size;
    if (it->second.size() < 2 || most <= first) {  // nothing to rank, or nothing to save
      it = groups.erase(it);
      continue;
    }
    for (size_t q : it->second) rounds_used[q] = std::min(rounds_used[q], first);
    looks[it->first] = most - first;
    ++it;
  }
  // 4. Compute the rounds in use; after each, a group whose first place is
  //    settled stops, the others read one more round.
  RowLosses rows(drawn, options);
  auto rows_used = [&](size_t q) { return static_cast<int64_t>(rounds_used[q]) * drawn[q].rows_per_round; };
  auto row_values = [&](size_t q) {
    std::vector<double> values;
    for (int64_t r = 0; r < rows_used(q); ++r) values.push_back(rows.Value(q, r));
    return values;
  };
  while (true) {
    std::vector<RowRef> wanted;
    for (size_t q = 0; q < drawn.size(); ++q)
      for (int64_t r = static_cast<int64_t>(rounds_done[q]) * drawn[q].rows_per_round; r < rows_used(q); ++r)
        wanted.push_back({q, r});
    if (wanted.empty()) break;
    rows.Compute(model, wanted, options, budget);
    rounds_done = rounds_used;
    for (auto it = groups.begin(); it != groups.end();) {
      const auto& members = it->second;
      const ChoiceRanking& ranking = *queries[members.front()].ranking;
      std::vector<ChoiceSamples> choices;
      for (size_t q : members) choices.push_back({row_values(q), queries[q].ranking->normalizer});
      const int rules = (ranking.by_loglikelihood ? 1 : 0) + (ranking.by_normalized ? 1 : 0);
      const double tail = (1.0 - options.confidence) /
                          (static_cast<double>(looks.at(it->first)) * static_cast<double>(members.size() - 1) *
                           static_cast<double>(std::max(1, rules)));
      const bool settled = (!ranking.by_loglikelihood || FirstPlaceSettled(choices, false, tail)) &&
                           (!ranking.by_normalized || FirstPlaceSettled(choices, true, tail));
      bool grew = false;
      if (!settled)
        for (size_t q : members)
          if (rounds_used[q] < drawn[q].rounds) {
            ++rounds_used[q];
            grew = true;
          }
      it = grew ? std::next(it) : groups.erase(it);
    }
  }
  // 5. Per query: loss.sum() / batch_size per round as a float32 tensor, then
  //    .item() into a double, averaged over rounds -- the reference's arithmetic.
  const std::vector<double> computed_share = rows.ComputedShares(rows_used);
  std::vector<LikelihoodEstimate> estimates;
  for (size_t q = 0; q < drawn.size(); ++q) {
    const DrawnQuery& d = drawn[q];
    double total = 0.0;
    for (int round = 0; round < rounds_used[q]; ++round) {
      std::vector<torch::Tensor> round_rows;
      for (int64_t r = 0; r < d.rows_per_round; ++r) round_rows.push_back(rows.Loss(q, round * d.rows_per_round + r));
      total += (torch::cat(round_rows).sum() / d.rows_per_round).item<float>();
    }
    const std::vector<double> per_sample = row_values(q);
    LikelihoodEstimate estimate;
    estimate.loglikelihood = -total / rounds_used[q];
    estimate.rows = static_cast<int64_t>(per_sample.size());
    estimate.rows_computed = computed_share[q];
    if (per_sample.size() > 1)
      estimate.standard_error =
          std::sqrt(SampleVariance(per_sample)) / std::sqrt(static_cast<double>(per_sample.size()));
    estimates.push_back(estimate);
  }
  return estimates;
}

double LladaLogLikelihood(const Transformer& model, const std::vector<int64_t>& prefix,
                          const std::vector<int64_t>& target, const MonteCarloOptions& options,
                          double* standard_error) {
  MonteCarloOptions one_batch = options;
  // The reference's own batches: rows x length of one Monte-Carlo batch.
  one_batch.max_batch_tokens =
      static_cast<int64_t>(options.batch_size) * static_cast<int64_t>(prefix.size() + target.size());
  const LikelihoodEstimate estimate = LladaLogLikelihoods(model, {{prefix, target}}, one_batch).at(0);
  if (standard_error) *standard_error = estimate.standard_error;
  return estimate.loglikelihood;
}

bool LladaSuffixGreedy(const Transformer& model, const std::vector<int64_t>& prefix, const std::vector<int64_t>& target,
                       const MonteCarloOptions& options, std::vector<int64_t>* greedy_tokens) {
  torch::NoGradGuard no_grad;
  const auto device = model.device();
  const int64_t length = static_cast<int64_t>(prefix.size() + target.size());
  auto seq = torch::full({1, length}, options.mask_id, torch::TensorOptions().dtype(torch::kInt64).device(device));
  const auto prompt_index = torch::arange(length, torch::TensorOptions().dtype(torch::kInt64).device(device)) <
                            static_cast<int64_t>(prefix.size());
  seq.index_put_({0, torch::indexing::Slice(0, static_cast<int64_t>(prefix.size()))}, LongTensor(prefix).to(device));
  for (size_t i = 0; i < target.size(); ++i) {
    const auto mask_index = seq == options.mask_id;
    const auto logits =
        GuidedLogits(model, seq, prompt_index.unsqueeze(0), options.cfg_scale, options.mask_id, std::nullopt,
                     [&](const torch::Tensor& hidden) { return hidden.index({mask_index}); });
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

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// One step's proposal (generate.py): each window position's arg-max token
// (Gumbel-perturbed at temperature > 0) and its confidence, -inf where the
// position may not be committed. Noise is drawn for `noise_length` positions
// and cut at `noise_offset`, so that each caller draws what its reference
// draws (generate.py: the whole sequence).
struct Proposal {
  torch::Tensor tokens, confidence;  // [B, W]
};

Proposal Propose(torch::Tensor logits, const torch::Tensor& eligible, const torch::Tensor& current,
                 const DiffusionGenerateOptions& o, int64_t noise_length, int64_t noise_offset) {
  const int64_t batch = logits.size(0), width = logits.size(1);
  const auto device = logits.device();
  if (o.logits_eos_inf) logits.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), o.eos_id}, kNegInf);
  // add_gumbel_noise: at temperature 0 the very same tensor.
  torch::Tensor noisy_logits = logits;
  if (o.temperature != 0.0) {
    const auto l64 = logits.to(torch::kFloat64);
    const auto noise =
        torch::rand({batch, noise_length, logits.size(2)}, torch::TensorOptions().dtype(torch::kFloat64).device(device))
            .slice(1, noise_offset, noise_offset + width);
    noisy_logits = l64.exp() / torch::pow(-torch::log(noise), o.temperature);
  }
  auto x0 = torch::argmax(noisy_logits, -1);
  if (o.confidence_eos_eot_inf) {
    // `logits_with_noise[:, :, eos] = logits[:, :, eot] = -inf`: at T=0
    // both names are one tensor, so both ids end up banned.
    noisy_logits.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), o.eos_id}, kNegInf);
    logits.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), o.eot_id}, kNegInf);
  }
  torch::Tensor x0_p;
  if (o.remasking == "low_confidence") {
    const auto p = torch::softmax(logits, -1);
    x0_p = torch::gather(p, -1, x0.unsqueeze(-1)).squeeze(-1);
  } else if (o.remasking == "random") {
    x0_p = torch::rand({batch, noise_length}, torch::TensorOptions().device(device))
               .slice(1, noise_offset, noise_offset + width);
  } else {
    throw InternalError("remasking '" + o.remasking + "' passed CheckGenerateOptions");
  }
  return {torch::where(eligible, x0, current), torch::where(eligible, x0_p, torch::full_like(x0_p, kNegInf))};
}

// The paper's schedule: per row, the `count[j]` most confident positions.
torch::Tensor ScheduledTransfers(const torch::Tensor& confidence, const torch::Tensor& count) {
  auto transfers = torch::zeros_like(confidence, torch::TensorOptions().dtype(torch::kBool));
  for (int64_t j = 0; j < confidence.size(0); ++j) {
    const auto selected = std::get<1>(torch::topk(confidence[j], count[j].item<int64_t>()));
    transfers[j].index_put_({selected}, true);
  }
  return transfers;
}

// get_num_transfer_tokens: per row, an even split of the block's masks over
// the steps, the first `remainder` steps one more. [B, steps].
torch::Tensor TransferSchedule(const torch::Tensor& block_mask, int64_t steps) {
  const auto mask_count = block_mask.sum(1, /*keepdim=*/true);
  const auto base = torch::div(mask_count, steps, "floor");
  const auto remainder = mask_count % steps;
  auto transfer = torch::zeros({block_mask.size(0), steps},
                               torch::TensorOptions().dtype(torch::kInt64).device(block_mask.device())) +
                  base;
  for (int64_t j = 0; j < block_mask.size(0); ++j) transfer[j].slice(0, 0, remainder[j].item<int64_t>()) += 1;
  return transfer;
}

// The sequence being generated: the prompt, then gen_length masks; which
// positions were the prompt (fixed once, as the reference); the key mask
// over the whole sequence when the prompts are left-padded.
struct Canvas {
  Canvas(const Transformer& model, const torch::Tensor& prompt, const DiffusionGenerateOptions& o,
         const std::optional<torch::Tensor>& attention_mask)
      : prompt_length(prompt.size(1)), total_length(prompt.size(1) + o.gen_length) {
    const auto device = model.device();
    const int64_t batch = prompt.size(0);
    x = torch::full({batch, total_length}, o.mask_id, torch::TensorOptions().dtype(torch::kInt64).device(device));
    x.slice(1, 0, prompt_length).copy_(prompt.to(device, torch::kInt64));
    prompt_index = x != o.mask_id;
    prompt_has_mask = (prompt == o.mask_id).any().item<bool>();
    if (attention_mask)
      mask =
          torch::cat({attention_mask->to(device, torch::kInt64),
                      torch::ones({batch, o.gen_length}, torch::TensorOptions().dtype(torch::kInt64).device(device))},
                     1);
  }
  int64_t prompt_length, total_length;
  torch::Tensor x, prompt_index;
  bool prompt_has_mask = false;
  std::optional<torch::Tensor> mask;
};

}  // namespace

torch::Tensor ThresholdTransfers(const torch::Tensor& confidence, const torch::Tensor& eligible, double threshold) {
  auto transfers = eligible & (confidence >= threshold);
  // At least one per row: the most confident, the lowest index among ties.
  const auto best = torch::argmax(confidence, 1, /*keepdim=*/true);
  transfers.scatter_(1, best, true);
  return transfers & eligible;
}

torch::Tensor FactorTransfers(const torch::Tensor& confidence, const torch::Tensor& eligible, double factor) {
  auto transfers = torch::zeros_like(eligible);
  const auto counts = eligible.sum(1).to(torch::kCPU);
  for (int64_t b = 0; b < confidence.size(0); ++b) {
    const int64_t n = counts[b].item<int64_t>();
    if (n == 0) continue;
    const auto sorted = std::get<0>(torch::sort(confidence[b].index({eligible[b]}).to(torch::kCPU, torch::kFloat64),
                                                /*dim=*/0, /*descending=*/true));
    const double* c = sorted.data_ptr<double>();
    // The (k+1)-th best must reach 1 - factor / (k + 2); the best always passes.
    int64_t passing = n - 1;
    for (int64_t k = 1; k < n; ++k) {
      if (c[k] < 1.0 - factor / static_cast<double>(k + 2)) {
        passing = k;
        break;
      }
    }
    // Fast-dLLM's rule, quirk included: a failure at the last position still
    // commits all n (and n = 1 or 2 always commits every position).
    if (passing == 0 || passing == n - 1) ++passing;
    transfers[b].index_put_({std::get<1>(torch::topk(confidence[b], passing))}, true);
  }
  return transfers & eligible;
}

torch::Tensor LladaGenerate(const Transformer& model, const torch::Tensor& prompt, const DiffusionGenerateOptions& o,
                            int64_t* forward_calls, const std::optional<torch::Tensor>& attention_mask) {
  if (!o.PaperMode()) return LladaGenerateFast(model, prompt, o, forward_calls, attention_mask);
  torch::NoGradGuard no_grad;
  CheckGenerateOptions(o);
  const int64_t blocks = o.gen_length / o.block_length;
  const int64_t steps_per_block = o.steps / blocks;
  Canvas canvas(model, prompt, o, attention_mask);
  auto& [prompt_length, total_length, x, prompt_index, prompt_has_mask, mask] = canvas;
  int64_t calls = 0;
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t block_start = prompt_length + block * o.block_length;
    const auto transfer =
        TransferSchedule(x.slice(1, block_start, block_start + o.block_length) == o.mask_id, steps_per_block);
    // Logits are read only inside the block (later positions get confidence
    // -inf, earlier ones are all committed), so the head runs on the block's
    // columns alone -- unless the prompt itself holds mask tokens, which the
    // reference would also consider: then the window starts at 0.
    const int64_t window_start = prompt_has_mask ? 0 : block_start;
    const int64_t window_end = block_start + o.block_length;
    for (int64_t step = 0; step < steps_per_block; ++step) {
      auto window = x.slice(1, window_start, window_end);  // a view: writes land in x
      const auto mask_index = window == o.mask_id;
      const torch::Tensor logits =
          GuidedLogits(model, x, prompt_index, o.cfg_scale, o.mask_id, mask,
                       [&](const torch::Tensor& hidden) { return hidden.slice(1, window_start, window_end); });
      ++calls;
      const Proposal proposal = Propose(logits, mask_index, window, o, total_length, window_start);
      const auto transfer_index = ScheduledTransfers(proposal.confidence, transfer.select(1, step));
      window.index_put_({transfer_index}, proposal.tokens.index({transfer_index}));
    }
  }
  if (forward_calls) *forward_calls = calls;
  return x;
}

torch::Tensor LladaGenerateFast(const Transformer& model, const torch::Tensor& prompt,
                                const DiffusionGenerateOptions& o, int64_t* forward_calls,
                                const std::optional<torch::Tensor>& attention_mask) {
  torch::NoGradGuard no_grad;
  CheckGenerateOptions(o);
  const int64_t blocks = o.gen_length / o.block_length;
  const int64_t steps_per_block = o.steps / blocks;
  const bool parallel = o.threshold || o.factor;
  // Parallel rules commit at least one token per step: a block is done in at
  // most block_length steps. The schedule is done after its steps.
  const int64_t step_cap = parallel ? o.block_length : steps_per_block;
  Canvas canvas(model, prompt, o, attention_mask);
  auto& [prompt_length, total_length, x, prompt_index, prompt_has_mask, mask] = canvas;
  int64_t calls = 0;
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t block_start = prompt_length + block * o.block_length;
    const int64_t block_end = block_start + o.block_length;
    const auto transfer = TransferSchedule(x.slice(1, block_start, block_end) == o.mask_id, steps_per_block);
    KvCache cache;
    for (int64_t step = 0; step < step_cap; ++step) {
      if (!(x.slice(1, block_start, block_end) == o.mask_id).any().item<bool>()) break;
      // The block's first pass (every pass without a cache) reads the whole
      // sequence, exactly as the paper's mode; later ones read the cache.
      const bool full = o.cache == DiffusionCache::kNone || step == 0;
      const int64_t window_start = full && prompt_has_mask ? 0 : block_start;
      auto window = x.slice(1, window_start, block_end);
      torch::Tensor logits;
      int64_t noise_length = total_length, noise_offset = window_start;
      if (full && o.cache == DiffusionCache::kNone) {
        logits = GuidedLogits(model, x, prompt_index, o.cfg_scale, o.mask_id, mask,
                              [&](const torch::Tensor& hidden) { return hidden.slice(1, window_start, block_end); });
      } else if (full) {
        logits = model.Head(model.Hidden(x, mask, std::nullopt, &cache, [&](const torch::Tensor& hidden) {
          return hidden.slice(1, window_start, block_end);
        }));
      } else if (o.cache == DiffusionCache::kPrefix) {
        logits = model.Head(
            model.HiddenSpliced(x.slice(1, block_start), block_start, cache, mask).slice(1, 0, o.block_length));
        noise_length = total_length - block_start;
        noise_offset = 0;
      } else {
        logits = model.Head(model.HiddenSpliced(window, block_start, cache, mask));
        noise_length = o.block_length;
        noise_offset = 0;
      }
      ++calls;
      const auto eligible = window == o.mask_id;
      const Proposal proposal = Propose(logits, eligible, window, o, noise_length, noise_offset);
      torch::Tensor transfers;
      if (o.factor) {
        transfers = FactorTransfers(proposal.confidence, eligible, *o.factor);
      } else if (o.threshold) {
        transfers = ThresholdTransfers(proposal.confidence, eligible, *o.threshold);
      } else {
        transfers = ScheduledTransfers(proposal.confidence, transfer.select(1, step));
      }
      window.index_put_({transfers}, proposal.tokens.index({transfers}));
    }
    if (o.early_stop && block + 1 < blocks) {
      const auto finished_block = x.slice(1, block_start, block_end);
      const auto ended = ((finished_block == o.eos_id) | (finished_block == o.eot_id)).any(1);
      x.slice(1, block_end).index_put_({ended}, o.eos_id);
      if (ended.all().item<bool>()) break;
    }
  }
  if (forward_calls) *forward_calls = calls;
  return x;
}

}  // namespace llada
