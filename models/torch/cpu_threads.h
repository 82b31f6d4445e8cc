// CPU threads and BLAS kernels for a process that runs a model: LibTorch's
// intra-op pool and OpenBLAS's own pool, set to one count, with the OpenMP
// wait policy that lets them share the cores, and OpenBLAS's kernels for the
// CPU it runs on. A plain header: callers need no torch include.
#pragma once

#include <nlohmann/json.hpp>

namespace llada {

// Sets LibTorch's intra-op threads and, where the BLAS in use is OpenBLAS,
// its threads to `threads` (0: the machine's cores), after
// UseWidestBlasKernels. Returns what is in force, for the run's record:
// {"threads", "malloc_mmap_threshold" (freed activations stay in the heap
// for the next pass), "blas_threads" (null when the BLAS has no thread
// setting), "blas_core" (OpenBLAS's kernel set, else null),
// "omp_wait_policy" (null: libgomp's default, which spins),
// "flush_denormals" (SetLoadTimeSettings ran)}.
nlohmann::json ApplyCpuThreads(int threads);

// Settings that libgomp and OpenBLAS read once, as their initializers run,
// and the floating-point mode the threads they start inherit. Called from
// the executable's .preinit_array with (argv, envp) (harness/main.cc,
// tests/test_main.cc): the dynamic loader runs it after mapping every library
// and before any library's initializer. Never overrides the user's
// environment. Touches nothing that needs initializing (no LibTorch, no
// OpenBLAS calls).
//  - OMP_WAIT_POLICY=PASSIVE where OpenBLAS is loaded: LibTorch's OpenMP
//    workers otherwise spin between parallel regions and take the cores
//    from OpenBLAS's threads (an MMLU-shape run, 2 threads: 4.0-4.2 s passive,
//    9.6-9.9 s spinning). libc's own initializer puts the environment back as the
//    process got it, so the process starts again at once with the variable
//    added: before any library ran code, that costs the loader's
//    relocations (~0.3 s for Debian's LibTorch and its 294 libraries), not
//    LibTorch's start-up as well (~0.55 s, what the restart from main cost).
//  - denormal floats flushed to zero (x86's FTZ and DAZ): a random model's
//    attention puts probabilities below 1e-38 into the next matmul, where
//    every denormal operand costs a microcode assist (MMLU-shape model
//    time: 4.5-4.9 s without, 3.5-3.7 s with); a value that small changes no sum it
//    joins.
void SetLoadTimeSettings(char** argv, char** envp);

// OpenBLAS's kernels as wide as the CPU's vectors: SkylakeX's (AVX-512) or
// Haswell's (AVX2 + FMA) when OpenBLAS fell back to narrower ones on a CPU
// it does not know (Debian 12's 0.3.21 takes this Sapphire Rapids VM for a
// Prescott: 52 GFLOP/s for a 1024^3 float32 matmul, 223 with SkylakeX's),
// unless OPENBLAS_CORETYPE is set. Switches in place, through OpenBLAS's own
// start-up path; call before any other thread multiplies matrices.
void UseWidestBlasKernels();

}  // namespace llada
