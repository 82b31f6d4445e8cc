// The transformer's float32 CPU steps, each with LibTorch's own ops as the
// fallback: products on oneDNN's sgemm where CpuSgemm has one, and the steps
// between products done in one pass over the rows instead of LibTorch's
// chain of elementwise kernels (each allocating its result and, at small
// sizes, running on one thread while the others wait). Numerics follow the
// op sequences they replace (same roundings in the same order, except where
// an sgemm adds into its output or a product is split into blocks).
#pragma once

#include <ATen/core/Tensor.h>

namespace llada {

// How many threads a loop of these kernels spreads over: LibTorch's
// intra-op threads, or 1 where this file was compiled without OpenMP
// (at::parallel_for is an OpenMP region compiled into its caller, so a build
// without -fopenmp runs every such loop on one thread, silently). Recorded in
// a run's config (cpu_threads.kernel_threads).
int KernelThreads();

// x [..., in] times weight [out, in] transposed, plus bias (torch's linear).
at::Tensor Linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

// x + Linear(input, weight); on the sgemm path the product is added into x
// in place (x is a fresh activation nobody else reads).
at::Tensor AddLinear(at::Tensor x, const at::Tensor& input, const at::Tensor& weight);

// weight * (x * rsqrt(mean(x^2, -1) + eps)), in float32, cast back to x's
// dtype before the weight multiply (both references' RMSNorm); float32
// rows bit for bit as LibTorch's ops give them.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Rotary embedding of t [B, H, T, hd] (float32): t * cos + rotate_half(t) *
// sin, with cos and sin [B or 1, 1, T, hd]; the result has t's layout.
at::Tensor Rotate(const at::Tensor& t, const at::Tensor& cos, const at::Tensor& sin);

// How attention scales its scores, in the order the references round:
// LLaDA's SDPA multiplies q before q·kᵀ, Hugging Face's eager attention
// divides q·kᵀ after it.
struct ScoreScaling {
  double query_factor = 1.0;
  double score_divisor = 1.0;
};

// softmax(scores + bias) v, scores as `scaling` says, for q [b, H, n, hd],
// k and v [b, H, S, hd] and an additive float32 `bias` broadcast as
// [b or 1, 1, n or 1, S] (undefined: none). On oneDNN's sgemm: one task per
// (row, head) and a block of queries at a time, so scores and probabilities
// stay in the core's cache between the three steps, and the result is a
// [b, H, n, hd] view of a [b, n, H, hd] tensor (the output projection reads
// it without a copy); elsewhere LibTorch's op sequence, the same operations.
at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, ScoreScaling scaling,
                     const at::Tensor& bias);

}  // namespace llada
