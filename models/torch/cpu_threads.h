// CPU threads and matrix kernels for a process that runs a model: who
// multiplies float32 matrices (oneDNN or LibTorch's BLAS), LibTorch's
// intra-op pool and OpenBLAS's own pool, the OpenMP wait policy, and
// OpenBLAS's kernels for the CPU it runs on. A plain header: callers need no
// torch include.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace llada {

// Sets LibTorch's intra-op threads and, where the BLAS in use is OpenBLAS,
// its threads to `threads` (0: the machine's cores), after
// UseWidestBlasKernels; where CpuSgemm is oneDNN's, OpenBLAS gets one thread
// instead (no product of the model reaches it). Returns what is in force,
// for the run's record: {"threads", "malloc_mmap_threshold" (freed
// activations stay in the heap for the next pass), "gemm" ("onednn" or
// "libtorch": who multiplies float32 matrices on the CPU), "blas_threads"
// (null when the BLAS has no thread setting), "blas_core" (OpenBLAS's kernel
// set, else null), "omp_wait_policy" (null: libgomp's default, which spins
// for a while before it sleeps), "flush_denormals" (SetLoadTimeSettings ran),
// "kernel_threads" (cpu_kernels.h's KernelThreads)}.
nlohmann::json ApplyCpuThreads(int threads);

// MXCSR's flush-to-zero and denormals-are-zero bits (x86's SSE/AVX math).
inline constexpr unsigned kFlushDenormals = 0x8040;

// Flushes denormals in the calling thread (why: SetLoadTimeSettings). Threads
// inherit the floating-point environment of the thread that creates them
// (POSIX), so every pool started afterwards flushes too.
inline void FlushDenormalsInThisThread() {
#if defined(__x86_64__)
  __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | kFlushDenormals);
#endif
}

// oneDNN's single-precision GEMM (its C API `dnnl_sgemm`: row-major,
// C = alpha * op(A) * op(B) + beta * C, op 'N' or 'T'; returns 0 on success).
using SgemmFunction = int(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// What multiplies the model's float32 matrices on the CPU: oneDNN's sgemm
// where LibTorch's own BLAS is OpenBLAS and LibTorch links oneDNN (Debian's
// 1.13 does both), else null (LibTorch's own products: MKL in PyPI's wheel).
// oneDNN threads on LibTorch's OpenMP pool, so one pool does all the math
// and no second pool competes for the cores (OpenBLAS's threads yield-spin
// between products and take the cores from LibTorch's workers; keeping them
// apart needed a passive wait policy that slowed every other op). Its
// kernels are also faster on one thread (1024^3: 142 against OpenBLAS's 114
// GFLOP/s here; equal on two). `LLADA_EVAL_CPU_GEMM=libtorch` keeps
// LibTorch's products (a comparison or a fallback).
SgemmFunction* CpuSgemm();

// How SgemmLinear (cpu_kernels.cc) splits a product of `out` output columns
// over `threads` threads: by columns where each thread gets at least
// kColumnsPerThread, in slices of ColumnSlice columns (whole 64-byte lines
// of each output row; the last slice may be shorter or empty). Shared with
// bench/sgemm_split_bench.cc, which measures the rule.
inline constexpr int64_t kColumnsPerThread = 256;
inline bool SplitsByColumns(int64_t out, int64_t threads) { return threads > 1 && out >= kColumnsPerThread * threads; }
inline int64_t ColumnSlice(int64_t out, int64_t threads) { return ((out + threads - 1) / threads + 15) / 16 * 16; }

// Who shares the cores with the process: kAlone (a bench: one pool with the
// machine's cores), kOthers (a test binary, which ctest runs in parallel, and
// the processes it starts).
enum class CoreSharing { kAlone, kOthers };

// Settings that libgomp and OpenBLAS read once, as their initializers run,
// and the floating-point mode the threads they start inherit, for a program
// that links LibTorch. Called from the executable's .preinit_array with
// (argv, envp) (tests/test_main.cc, bench/backend_bench.cc): the dynamic
// loader runs it after mapping every library and before any library's
// initializer. Never overrides the user's environment. Touches nothing that
// needs initializing (no LibTorch, no OpenBLAS calls). llada-eval, which
// loads LibTorch itself, sets the same before loading it
// (SetCpuSettingsBeforeTorchLoads, models/torch_backend.h), without this
// check of who multiplies: passive there only with LLADA_EVAL_CPU_GEMM=libtorch.
//  - OMP_WAIT_POLICY=PASSIVE where OpenMP workers would spin against
//    another pool or process: with kOthers, and where OpenBLAS's pool does
//    the products (CpuSgemm null; an MMLU-shape run, 2 threads: 4.0-4.2 s
//    passive, 9.6-9.9 s spinning). Where all the math is on LibTorch's pool,
//    libgomp's default is the faster one (the same run 2.9-3.3 s spinning,
//    3.6-4.2 s passive; two such runs at once on 2 cores, 9.4-9.8 s each
//    spinning, 4.9-5.6 s passive: processes that share cores want
//    `export OMP_WAIT_POLICY=PASSIVE`, or `--threads` dividing the cores).
//    libc's own initializer puts the environment back as the process got
//    it, so the process starts again at once with the variable added:
//    before any library ran code, that costs the loader's relocations
//    (50-105 M cycles by LD_DEBUG=statistics, 25-50 ms here, for Debian's
//    LibTorch and its 294 libraries), not LibTorch's start-up.
//  - denormal floats flushed to zero (x86's FTZ and DAZ): a random model's
//    attention puts probabilities below 1e-38 into the next matmul, where
//    every denormal operand costs a microcode assist (MMLU-shape model
//    time: 4.5-4.9 s without, 3.5-3.7 s with); a value that small changes no
//    sum it joins.
void SetLoadTimeSettings(char** argv, char** envp, CoreSharing sharing);

// OpenBLAS's kernels as wide as the CPU's vectors: SkylakeX's (AVX-512) or
// Haswell's (AVX2 + FMA) when OpenBLAS fell back to narrower ones on a CPU
// it does not know (Debian 12's 0.3.21 takes this Sapphire Rapids VM for a
// Prescott: 52 GFLOP/s for a 1024^3 float32 matmul, 223 with SkylakeX's),
// unless OPENBLAS_CORETYPE is set. Switches in place, through OpenBLAS's own
// start-up path; call before any other thread multiplies matrices.
void UseWidestBlasKernels();

}  // namespace llada
