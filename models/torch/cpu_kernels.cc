#include "models/torch/cpu_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/errors.h"
#include "models/torch/cpu_threads.h"

namespace llada {

namespace {

// Elements per task below which splitting a pass across threads costs more
// than it saves (LibTorch's own grain).
constexpr int64_t kGrain = 32768;

bool IsCpuFloat32(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat; }

// Whether CpuSgemm multiplies `t`'s float32 matrices.
bool OnCpuSgemm(const at::Tensor& t) { return IsCpuFloat32(t) && CpuSgemm() != nullptr; }

void CheckSgemm(int status) {
  if (status != 0) throw InternalError("oneDNN's sgemm failed with status " + std::to_string(status));
}

// x [rows, in] times weight [out, in] transposed into c [rows, out]:
// c = x wᵀ + beta * c.
void SgemmLinear(const at::Tensor& x, const at::Tensor& weight, float beta, at::Tensor& c) {
  const int64_t in = weight.size(1), out = weight.size(0), rows = x.numel() / in;
  const float* input = x.data_ptr<float>();
  const float* weights = weight.data_ptr<float>();
  float* result = c.data_ptr<float>();
  const int64_t threads = at::get_num_threads();
  if (!SplitsByColumns(out, threads) || at::in_parallel_region()) {
    CheckSgemm(CpuSgemm()('N', 'T', rows, out, in, 1.0f, input, in, weights, in, beta, result, out));
    return;
  }
  // Each thread multiplies its own slice of the weight's rows (the output's
  // columns) with a single-threaded sgemm (inside a parallel region oneDNN
  // runs on the calling thread): oneDNN 2.6's sgemm, threaded on its own,
  // splits these products worse at 2 threads (bench/run_sgemm_split_bench.sh
  // on the small LLaDA's shapes: 1.5-1.7x at 32 rows, 1.0-1.2x at 512). Each
  // output element is still one single-threaded sgemm's dot product: the
  // same bits as oneDNN's own 1- and 2-thread products on every shape
  // measured.
  const int64_t slice = ColumnSlice(out, threads);
  at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t part = begin; part < end; ++part) {
      const int64_t first = part * slice, count = std::min(out, first + slice) - first;
      if (count > 0)
        CheckSgemm(CpuSgemm()('N', 'T', rows, count, in, 1.0f, input, in, weights + first * in, in, beta,
                              result + first, out));
    }
  });
}

}  // namespace

int KernelThreads() {
  std::vector<int> seen(static_cast<size_t>(at::get_num_threads()), 0);
  at::parallel_for(0, static_cast<int64_t>(seen.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) seen[static_cast<size_t>(at::get_thread_num())] = 1;
  });
  return static_cast<int>(std::count(seen.begin(), seen.end(), 1));
}

at::Tensor Linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!OnCpuSgemm(x) || !weight.is_contiguous()) return at::linear(x, weight, bias);
  const auto input = x.contiguous();
  auto sizes = input.sizes().vec();
  sizes.back() = weight.size(0);
  // With a bias, C starts as a copy of the bias and the product is added to it
  // (beta 1), as addmm does. (A copy: expand(...).contiguous() of one row
  // would be the bias itself.)
  auto result = at::empty(sizes, input.options());
  if (bias.defined()) result.copy_(bias);
  SgemmLinear(input, weight, bias.defined() ? 1.0f : 0.0f, result);
  return result;
}

at::Tensor AddLinear(at::Tensor x, const at::Tensor& input, const at::Tensor& weight) {
  if (!OnCpuSgemm(x) || !x.is_contiguous() || !weight.is_contiguous() || x.size(-1) != weight.size(0) ||
      input.numel() / weight.size(1) != x.numel() / weight.size(0))
    return x + Linear(input, weight);
  SgemmLinear(input.contiguous(), weight, 1.0f, x);
  return x;
}

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const int64_t width = x.size(-1);
  const bool fits =
      IsCpuFloat32(x) && x.is_contiguous() && IsCpuFloat32(weight) && weight.is_contiguous() && weight.numel() == width;
  // The mean of squares is LibTorch's own (its summation order decides the
  // last bits, and a random model amplifies those: a different order moved
  // MMLU-shape log-likelihoods by 7e-6 relative); the rest of the sequence
  // runs in one pass with the same roundings.
  const auto x32 = x.to(at::kFloat);
  const auto mean_square = x32.pow(2).mean(-1, /*keepdim=*/true);
  if (!fits) return weight * (x32 * at::rsqrt(mean_square + eps)).to(x.scalar_type());
  auto result = at::empty_like(x);
  const float* in = x.data_ptr<float>();
  const float* means = mean_square.data_ptr<float>();
  const float* w = weight.data_ptr<float>();
  float* out = result.data_ptr<float>();
  const float epsilon = static_cast<float>(eps);  // a Scalar added to a float32 tensor
  at::parallel_for(0, x.numel() / width, std::max<int64_t>(1, kGrain / width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float inverse_rms = 1.0f / std::sqrt(means[r] + epsilon);  // LibTorch's rsqrt: 1 / sqrt, rounded
      const float* row = in + r * width;
      float* dest = out + r * width;
      for (int64_t i = 0; i < width; ++i) dest[i] = w[i] * (row[i] * inverse_rms);
    }
  });
  return result;
}

at::Tensor Rotate(const at::Tensor& t, const at::Tensor& cos, const at::Tensor& sin) {
  // The fast path reads t as the transposed view of a [B, T, H, hd] tensor
  // (a projection's output), as the transformer passes it.
  const bool fits = t.dim() == 4 && IsCpuFloat32(t) && t.transpose(1, 2).is_contiguous() && IsCpuFloat32(cos) &&
                    cos.is_contiguous() && sin.is_contiguous() && cos.sizes() == sin.sizes() && cos.dim() == 4 &&
                    (cos.size(0) == 1 || cos.size(0) == t.size(0)) && cos.size(1) == 1 && cos.size(2) == t.size(2) &&
                    cos.size(3) == t.size(3) && t.size(3) % 2 == 0;
  if (!fits) {
    const int64_t half = t.size(-1) / 2;
    const auto t32 = t.to(at::kFloat);
    const auto rotated = at::cat({-t32.slice(-1, half), t32.slice(-1, 0, half)}, -1);
    return (t32 * cos + rotated * sin).to(t.scalar_type());
  }
  const int64_t batch = t.size(0), heads = t.size(1), length = t.size(2), head_dim = t.size(3), half = head_dim / 2;
  auto result = at::empty({batch, length, heads, head_dim}, t.options());
  const float* in = t.data_ptr<float>();
  const float* cos_data = cos.data_ptr<float>();
  const float* sin_data = sin.data_ptr<float>();
  float* out = result.data_ptr<float>();
  const int64_t per_position = heads * head_dim;
  const bool shared_table = cos.size(0) == 1;
  at::parallel_for(0, batch * length, std::max<int64_t>(1, kGrain / per_position), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t table = (shared_table ? p % length : p) * head_dim;
      const float* c = cos_data + table;
      const float* s = sin_data + table;
      for (int64_t h = 0; h < heads; ++h) {
        const float* x = in + p * per_position + h * head_dim;
        float* y = out + p * per_position + h * head_dim;
        // t * cos + cat(-t[half:], t[:half]) * sin, each product rounded
        // before the sum as LibTorch's separate kernels round it.
        for (int64_t i = 0; i < half; ++i) y[i] = x[i] * c[i] + (-x[i + half]) * s[i];
        for (int64_t i = half; i < head_dim; ++i) y[i] = x[i] * c[i] + x[i - half] * s[i];
      }
    }
  });
  return result.transpose(1, 2);
}

at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, ScoreScaling scaling,
                     const at::Tensor& bias) {
  const bool fits = OnCpuSgemm(q) && IsCpuFloat32(k) && IsCpuFloat32(v) && q.dim() == 4 && k.dim() == 4 &&
                    v.dim() == 4 && k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(1) == k.size(1) &&
                    q.size(3) == k.size(3) && q.stride(3) == 1 && k.stride(3) == 1 && v.stride(3) == 1;
  const bool bias_fits =
      !bias.defined() ||
      (IsCpuFloat32(bias) && bias.dim() == 4 && (bias.size(0) == 1 || bias.size(0) == q.size(0)) && bias.size(1) == 1 &&
       (bias.size(2) == 1 || bias.size(2) == q.size(2)) && bias.size(3) == k.size(2) && bias.stride(3) == 1);
  if (!fits || !bias_fits) {
    auto scores = at::matmul(scaling.query_factor != 1.0 ? q * scaling.query_factor : q, k.transpose(2, 3));
    if (scaling.score_divisor != 1.0) scores = scores / scaling.score_divisor;
    auto logits32 = scores.to(at::kFloat);
    if (bias.defined()) logits32 = logits32 + bias;
    return at::matmul(at::softmax(logits32, -1).to(q.scalar_type()), v);
  }
  const int64_t batch = q.size(0), heads = q.size(1), n = q.size(2), head_dim = q.size(3), keys = k.size(2);
  auto result = at::empty({batch, n, heads, head_dim}, q.options());
  if (result.numel() == 0) return result.transpose(1, 2);
  // Queries per block: scores and probabilities of a block, 2 x 256 KiB,
  // stay in a core's L2 between the three steps.
  const int64_t block = std::clamp<int64_t>(65536 / keys, 1, n);
  // Scalars applied to float32 tensors act in float32.
  const float factor = static_cast<float>(scaling.query_factor);
  const float divisor = static_cast<float>(scaling.score_divisor);
  const float* q_data = q.data_ptr<float>();
  const float* k_data = k.data_ptr<float>();
  const float* v_data = v.data_ptr<float>();
  const float* bias_data = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* out = result.data_ptr<float>();
  const int64_t q_row = q.stride(0), q_head_stride = q.stride(1), q_position = q.stride(2);
  const int64_t k_row = k.stride(0), k_head_stride = k.stride(1), k_position = k.stride(2);
  const int64_t v_row = v.stride(0), v_head_stride = v.stride(1), v_position = v.stride(2);
  // A broadcast dimension of the bias steps by 0.
  const int64_t bias_row = bias.defined() && bias.size(0) > 1 ? bias.stride(0) : 0;
  const int64_t bias_query = bias.defined() && bias.size(2) > 1 ? bias.stride(2) : 0;
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> queries(static_cast<size_t>(block * head_dim));
    auto scores = at::empty({block, keys}, q.options());
    auto probabilities = at::empty({block, keys}, q.options());
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = i / heads, head = i % heads;
      const float* q_head = q_data + row * q_row + head * q_head_stride;
      const float* k_head = k_data + row * k_row + head * k_head_stride;
      const float* v_head = v_data + row * v_row + head * v_head_stride;
      for (int64_t first = 0; first < n; first += block) {
        const int64_t count = std::min(block, n - first);
        for (int64_t r = 0; r < count; ++r) {
          const float* from = q_head + (first + r) * q_position;
          float* to = queries.data() + r * head_dim;
          for (int64_t d = 0; d < head_dim; ++d) to[d] = from[d] * factor;
        }
        auto block_scores = scores.narrow(0, 0, count);
        auto block_probabilities = probabilities.narrow(0, 0, count);
        float* score_data = block_scores.data_ptr<float>();
        CheckSgemm(CpuSgemm()('N', 'T', count, keys, head_dim, 1.0f, queries.data(), head_dim, k_head, k_position, 0.0f,
                              score_data, keys));
        if (divisor != 1.0f || bias_data) {
          for (int64_t r = 0; r < count; ++r) {
            float* line = score_data + r * keys;
            if (divisor != 1.0f)
              for (int64_t j = 0; j < keys; ++j) line[j] = line[j] / divisor;
            if (bias_data) {
              const float* add = bias_data + row * bias_row + (first + r) * bias_query;
              for (int64_t j = 0; j < keys; ++j) line[j] = line[j] + add[j];
            }
          }
        }
        // LibTorch's own softmax kernel, row by row as on the whole tensor.
        at::_softmax_out(block_probabilities, block_scores, 1, false);
        CheckSgemm(CpuSgemm()('N', 'N', count, head_dim, keys, 1.0f, block_probabilities.data_ptr<float>(), keys,
                              v_head, v_position, 0.0f, out + ((row * n + first) * heads + head) * head_dim,
                              heads * head_dim));
      }
    }
  });
  return result.transpose(1, 2);
}

}  // namespace llada
