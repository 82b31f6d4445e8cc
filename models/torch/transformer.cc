#include "models/torch/transformer.h"

#include <cmath>
#include <limits>

#include "core/errors.h"
#include "models/model.h"
#include "models/torch/cpu_kernels.h"

// LibTorch 2.x has at::scaled_dot_product_attention (flash and memory-efficient
// kernels on CUDA); 1.13 lacks it, and there the eager path below runs.
#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#define LLADA_HAVE_SDPA 1
#else
#define LLADA_HAVE_SDPA 0
#endif

namespace llada {

Transformer::Transformer(TransformerConfig config, const Checkpoint& checkpoint, torch::Device device,
                         torch::ScalarType dtype)
    : config_(std::move(config)), device_(device), dtype_(dtype) {
  ValidateCheckpoint(config_, checkpoint);
  torch::NoGradGuard no_grad;
  embedding_ = Load(checkpoint, config_.embedding_name);
  final_norm_ = Load(checkpoint, config_.final_norm_name);
  lm_head_ = config_.lm_head_name == config_.embedding_name ? embedding_ : Load(checkpoint, config_.lm_head_name);
  for (const auto& names : config_.layers) {
    Layer layer;
    layer.attn_norm = Load(checkpoint, names.attn_norm);
    layer.q = Load(checkpoint, names.q);
    layer.k = Load(checkpoint, names.k);
    layer.v = Load(checkpoint, names.v);
    layer.o = Load(checkpoint, names.o);
    if (config_.qkv_bias) {
      layer.q_bias = Load(checkpoint, names.q_bias);
      layer.k_bias = Load(checkpoint, names.k_bias);
      layer.v_bias = Load(checkpoint, names.v_bias);
    }
    layer.ffn_norm = Load(checkpoint, names.ffn_norm);
    layer.gate = Load(checkpoint, names.gate);
    layer.up = Load(checkpoint, names.up);
    layer.down = Load(checkpoint, names.down);
    layers_.push_back(std::move(layer));
  }
  // inv_freq = 1 / theta^(arange(0, d, 2) / d), in float32 as both references compute it.
  const auto exponents =
      torch::arange(0, config_.head_dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<float>(config_.head_dim);
  inv_freq_ = (1.0 / torch::pow(config_.rope_theta, exponents)).to(device_);
}

torch::Tensor Transformer::Load(const Checkpoint& checkpoint, const std::string& name) const {
  const TensorView& view = checkpoint.Get(name);
  if (auto widened = checkpoint.Widened(name); widened && device_.is_cpu() && dtype_ == torch::kFloat32) {
    // Widened before LibTorch had loaded (models/hf_checkpoint.h): adopted,
    // not copied; the tensor keeps the buffer alive. Weights are only read.
    return torch::from_blob(
        const_cast<float*>(widened.get()), view.shape, [widened](void*) {}, torch::kFloat32);
  }
  // Widen to float32 on the host, then convert once to the target dtype and device.
  torch::Tensor host = torch::empty(view.shape, torch::kFloat32);
  view.ToFloat32(host.data_ptr<float>());
  return host.to(device_, dtype_);
}

namespace {

// The last layer's attention at the positions `read` picks, [N, hidden] or
// [B', n, hidden] as `read` shapes them: `read` applied to each position's row
// number says which row each picked query belongs to (boolean indexing keeps
// row-major order, so each row's queries are consecutive).
torch::Tensor AttendWhereRead(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const PositionReader& read,
                              const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&,
                                                                const torch::Tensor&, const torch::Tensor&)>& attend) {
  const int64_t batch = q.size(0), length = q.size(2);
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(q.device());
  const auto row_of = read(torch::arange(batch, options).view({batch, 1}).expand({batch, length}));
  const auto picked = read(q.transpose(1, 2));  // [B', n, H, hd] or [N, H, hd]
  if (row_of.dim() == 2) {                      // a slice: the same positions in each row read
    const auto rows = row_of.select(1, 0);
    return attend(picked.transpose(1, 2), k.index_select(0, rows), v.index_select(0, rows), rows)
        .transpose(1, 2)
        .flatten(2);
  }
  std::vector<torch::Tensor> parts;
  const auto counts = torch::bincount(row_of, {}, batch).cpu();
  int64_t start = 0;
  for (int64_t row = 0; row < batch; ++row) {
    const int64_t count = counts[row].item<int64_t>();
    if (count == 0) continue;
    const auto rows = torch::full({1}, row, options);
    const auto queries = picked.narrow(0, start, count).transpose(0, 1).unsqueeze(0);  // [1, H, n, hd]
    parts.push_back(attend(queries, k.narrow(0, row, 1), v.narrow(0, row, 1), rows).squeeze(0).transpose(0, 1));
    start += count;
  }
  if (parts.empty()) return picked.flatten(1);  // nothing read
  return torch::cat(parts).flatten(1);
}

}  // namespace

torch::Tensor Transformer::Head(const torch::Tensor& hidden) const {
  torch::NoGradGuard no_grad;
  return Linear(hidden, lm_head_).to(torch::kFloat32);
}

torch::Tensor Transformer::Hidden(const torch::Tensor& input_ids, const std::optional<torch::Tensor>& attention_mask,
                                  const std::optional<torch::Tensor>& position_ids, KvCache* cache,
                                  const PositionReader& read) const {
  if (cache && !config_.causal && cache->length() != 0)
    throw InternalError("a bidirectional model fills an empty cache; it cannot append to one");
  return Layers(input_ids, attention_mask, position_ids, cache, nullptr, 0, read);
}

torch::Tensor Transformer::HiddenSpliced(const torch::Tensor& input_ids, int64_t splice_at, const KvCache& cache,
                                         const std::optional<torch::Tensor>& attention_mask) const {
  if (config_.causal) throw InternalError("spliced passes are for bidirectional models");
  if (splice_at < 0 || splice_at > cache.length() || cache.keys.size() != layers_.size())
    throw InternalError("splice position " + std::to_string(splice_at) + " outside a cache of " +
                        std::to_string(cache.length()) + " tokens");
  const int64_t length = input_ids.size(1);
  const auto positions =
      torch::arange(splice_at, splice_at + length, torch::TensorOptions(device_).dtype(torch::kInt64))
          .unsqueeze(0)
          .expand({input_ids.size(0), length});
  return Layers(input_ids, attention_mask, positions, nullptr, &cache, splice_at, nullptr);
}

torch::Tensor Transformer::Layers(const torch::Tensor& input_ids, const std::optional<torch::Tensor>& attention_mask,
                                  const std::optional<torch::Tensor>& position_ids, KvCache* cache,
                                  const KvCache* splice, int64_t splice_at, const PositionReader& read) const {
  torch::NoGradGuard no_grad;
  const auto ids = input_ids.to(device_, torch::kInt64);
  const int64_t batch = ids.size(0), length = ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  const int64_t total = splice ? std::max(splice->length(), splice_at + length) : past + length;
  const int64_t heads = config_.num_heads, kv_heads = config_.num_kv_heads, head_dim = config_.head_dim;

  torch::Tensor positions = position_ids
                                ? position_ids->to(device_, torch::kInt64)
                                : torch::arange(past, total, torch::TensorOptions(device_).dtype(torch::kInt64))
                                      .unsqueeze(0)
                                      .expand({batch, length});
  // RoPE tables in float32: freqs = pos (x) inv_freq, emb = [freqs, freqs].
  const auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq_.view({1, 1, -1});
  const auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);  // [B, 1, T, hd]
  const auto cos = emb.cos(), sin = emb.sin();

  // Additive mask, broadcast over heads (and over the batch when no padding
  // mask is given): the most negative float32 where attention is not allowed.
  // Undefined when every query may see every key (LLaDA without padding).
  const float kMin = std::numeric_limits<float>::lowest();
  torch::Tensor bias;
  if (config_.causal) {
    const auto query_pos = torch::arange(past, total, torch::TensorOptions(device_).dtype(torch::kInt64)).view({-1, 1});
    const auto key_pos = torch::arange(0, total, torch::TensorOptions(device_).dtype(torch::kInt64)).view({1, -1});
    auto blocked = key_pos > query_pos;
    if (config_.sliding_window) blocked = blocked | (query_pos - key_pos >= *config_.sliding_window);
    bias = torch::zeros({1, 1, length, total}, torch::TensorOptions(device_).dtype(torch::kFloat32))
               .masked_fill_(blocked.view({1, 1, length, total}), kMin);
  }
  if (attention_mask) {
    const auto keys_ok = attention_mask->to(device_).to(torch::kBool);  // [B, S]
    if (keys_ok.size(1) != total) throw InternalError("attention_mask must cover cached and new tokens");
    const auto key_bias = torch::zeros({batch, 1, 1, total}, torch::TensorOptions(device_).dtype(torch::kFloat32))
                              .masked_fill_(keys_ok.logical_not().view({batch, 1, 1, total}), kMin);
    bias = bias.defined() ? bias + key_bias : key_bias;
  }

#if LLADA_HAVE_SDPA
  // SDPA takes a boolean "may attend" mask. A query row with no allowed key
  // (a left pad under a causal mask) would give NaN there and poison its
  // values in later layers; let such rows see every key (their outputs are
  // never read). No mask at all for the common unpadded cases: flash kernels.
  std::optional<torch::Tensor> allowed;
  bool sdpa_causal = false;
  if (config_.causal && !attention_mask && !config_.sliding_window && past == 0) {
    sdpa_causal = true;
  } else if (bias.defined()) {
    auto may_attend = bias == 0;
    const auto nothing = may_attend.logical_not().all(-1, /*keepdim=*/true);
    allowed = may_attend | nothing;
  }
#endif

  torch::Tensor x = embedding_.index_select(0, ids.reshape(-1)).view({batch, length, config_.hidden_size});
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const bool last = l + 1 == layers_.size();
    const auto h = RmsNorm(x, layer.attn_norm, config_.rms_norm_eps);
    auto q = Linear(h, layer.q, layer.q_bias);
    auto k = Linear(h, layer.k, layer.k_bias);
    auto v = Linear(h, layer.v, layer.v_bias);
    q = Rotate(q.view({batch, length, heads, head_dim}).transpose(1, 2), cos, sin);
    k = Rotate(k.view({batch, length, kv_heads, head_dim}).transpose(1, 2), cos, sin);
    v = v.view({batch, length, kv_heads, head_dim}).transpose(1, 2);
    if (splice) {
      const auto& keys = splice->keys[l];
      const auto& values = splice->values[l];
      k = torch::cat({keys.slice(2, 0, splice_at), k, keys.slice(2, splice_at + length)}, 2);
      v = torch::cat({values.slice(2, 0, splice_at), v, values.slice(2, splice_at + length)}, 2);
    } else if (cache) {
      if (cache->keys.size() < layers_.size()) {
        cache->keys.resize(layers_.size());
        cache->values.resize(layers_.size());
      }
      if (cache->keys[l].defined()) {
        k = torch::cat({cache->keys[l], k}, 2);
        v = torch::cat({cache->values[l], v}, 2);
      }
      cache->keys[l] = k;
      cache->values[l] = v;
    }
    if (kv_heads != heads) {  // GQA: query head i reads kv head i / (heads / kv_heads)
      k = k.repeat_interleave(heads / kv_heads, 1);
      v = v.repeat_interleave(heads / kv_heads, 1);
    }
    // Attention of queries [b, H, n, hd] over keys and values [b, H, S, hd]
    // of the batch rows `rows` (undefined: every row, in order).
    auto attend = [&](const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& values,
                      const torch::Tensor& rows) {
      auto of_rows = [&](const torch::Tensor& t) {
        return !rows.defined() || t.size(0) == 1 ? t : t.index_select(0, rows);
      };
#if LLADA_HAVE_SDPA
      (void)scale;
      const c10::optional<at::Tensor> sdpa_mask = allowed ? c10::optional<at::Tensor>(of_rows(*allowed)) : c10::nullopt;
      return at::scaled_dot_product_attention(queries, keys, values, sdpa_mask, 0.0, sdpa_causal);
#else
      // LLaDA's SDPA scales q first; HF's eager attention divides the scores.
      const auto scaling =
          config_.causal ? ScoreScaling{1.0, std::sqrt(static_cast<double>(head_dim))} : ScoreScaling{scale, 1.0};
      return Attention(queries, keys, values, scaling, bias.defined() ? of_rows(bias) : torch::Tensor());
#endif
    };
    torch::Tensor attended;
    if (last && read) {
      // Past the last attention nothing mixes positions: the rest of the pass
      // runs only where the caller reads. A bidirectional model's last
      // attention needs every key and value, but queries only there (one per
      // row of an MMLU-shape likelihood pass) -- in float32, where a query's
      // result does not depend on how many others share its matmul beyond
      // the last bit; in bfloat16 it does (0.5 % on a tiny LLaDA's
      // likelihood, LibTorch 1.13's CPU kernels), so there every query runs.
      attended = config_.causal || dtype_ != torch::kFloat32
                     ? read(attend(q, k, v, {}).transpose(1, 2).reshape({batch, length, -1}))
                     : AttendWhereRead(q, k, v, read, attend);
      x = read(x);
    } else {
      attended = attend(q, k, v, {}).transpose(1, 2).reshape({batch, length, config_.hidden_size});
    }
    x = AddLinear(x, attended, layer.o);
    const auto f = RmsNorm(x, layer.ffn_norm, config_.rms_norm_eps);
    auto gated = Linear(f, layer.gate);
    torch::silu_(gated).mul_(Linear(f, layer.up));  // silu(gate) * up, in place
    x = AddLinear(x, gated, layer.down);
  }
  return RmsNorm(x, final_norm_, config_.rms_norm_eps);
}

torch::Device ParseDevice(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  if (!torch::cuda::is_available())
    throw UserError("--device " + device + ": CUDA is not available in this build or machine");
  return torch::Device(device);
}

torch::ScalarType ParseDtype(const std::string& dtype, const torch::Device& device) {
  if (dtype == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (dtype == "float32") return torch::kFloat32;
  if (dtype == "bfloat16") return torch::kBFloat16;
  if (dtype == "float16") {
    // LibTorch 1.13 has no float16 matrix multiply on the CPU ("addmm_impl_cpu_
    // not implemented for 'Half'", mid-run); 2.x has. Probe once, fail up front.
    static const bool cpu_half_matmul = [] {
      try {
        torch::mm(torch::ones({2, 2}, torch::kFloat16), torch::ones({2, 2}, torch::kFloat16));
        return true;
      } catch (const c10::Error&) {
        return false;
      }
    }();
    if (!device.is_cuda() && !cpu_half_matmul)
      throw UserError("--dtype float16: this LibTorch (" TORCH_VERSION
                      ") cannot multiply float16 matrices on the CPU; use bfloat16 or float32 there, or float16 with "
                      "--device cuda");
    return torch::kFloat16;
  }
  CheckDeviceAndDtype(device.is_cuda() ? "cuda" : "cpu", dtype);  // names the flag
  throw InternalError("dtype " + dtype);
}

}  // namespace llada
