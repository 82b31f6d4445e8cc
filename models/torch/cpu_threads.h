// CPU threads and BLAS kernels for a process that runs a model: LibTorch's
// intra-op pool and OpenBLAS's own pool, set to one count, with the OpenMP
// wait policy that lets them share the cores, and OpenBLAS's kernels for the
// CPU it runs on. A plain header: callers need no torch include.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace llada {

// Sets LibTorch's intra-op threads and, where the BLAS in use is OpenBLAS,
// its threads to `threads` (0: the machine's cores). Returns what is in
// force, for the run's record: {"threads", "malloc_mmap_threshold" (freed
// activations stay in the heap for the next pass), "blas_threads" (null when the
// BLAS has no thread setting), "blas_core" (OpenBLAS's kernel set, else
// null), "omp_wait_policy" (null: libgomp's default, which spins)}.
nlohmann::json ApplyCpuThreads(int threads);

// The environment a model-running process should have been started with:
// settings libgomp and OpenBLAS read once, as they load (before main), so
// only a restart applies them. Empty when the process is fine as it is. With
// OpenBLAS loaded and the user's environment silent on them:
//  - OMP_WAIT_POLICY=PASSIVE: LibTorch's OpenMP workers otherwise spin
//    between parallel regions and take the cores from OpenBLAS's threads;
//  - OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2 + FMA) when
//    OpenBLAS fell back to generic kernels on a CPU it does not know
//    (Debian 12's 0.3.21 takes this Sapphire Rapids VM for a Prescott:
//    40 GFLOP/s for a 1024^3 float32 matmul, 220 with SkylakeX's kernels).
std::map<std::string, std::string> LoadTimeSettings();

// Starts this program again, once, with LoadTimeSettings() in its
// environment (never overriding the user's); returns only when nothing needs
// setting or the exec failed (then the process runs as started). llada-eval's
// main calls it for commands that run a model, the test binary's always, so
// both compute with the same kernels.
void RestartWithLoadTimeSettings(char** argv);

}  // namespace llada
